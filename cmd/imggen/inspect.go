package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/model"
)

func (a *app) inspectCommand(o *genOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Describe a model file or folder: architecture, dtypes, sizes",
		Long: `inspect reads a model's headers (not its weights) and prints the detected
architecture, the tensors' dtypes and sizes, and whether imggen can run it.
It exits 1 (after the report) when imggen cannot run the model.`,
		Example: `  imggen inspect v1-5-pruned-emaonly.safetensors
  imggen inspect --json ./stable-diffusion-v1-5`,
		Args: argsN(1, 1, "one model path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.EqualFold(filepath.Ext(args[0]), ".png") {
				return usagef("%s is a picture, not a model; 'imggen info %s' prints its settings", args[0], args[0])
			}
			rep, err := model.Inspect(args[0])
			if err != nil {
				return err
			}
			if o.json {
				a.writeJSON(rep)
			} else {
				s := rep.String()
				if !strings.HasSuffix(s, "\n") {
					s += "\n"
				}
				fmt.Fprint(a.stdout, s)
			}
			if !rep.Supported {
				return fmt.Errorf("%s: imggen cannot run this model: %s", args[0], rep.Problem)
			}
			return nil
		},
	}
}
