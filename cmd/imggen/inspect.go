package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/model"
)

func (a *app) inspectCommand(o *genOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Describe a model file or folder: architecture, dtypes, sizes",
		Long: `inspect reads a model's headers (not its weights) and prints the detected
architecture, the tensors' dtypes and sizes, and whether imggen can run it.`,
		Example: `  imggen inspect v1-5-pruned-emaonly.safetensors
  imggen inspect --json ./stable-diffusion-v1-5`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := model.Inspect(args[0])
			if err != nil {
				return err
			}
			if o.json {
				a.writeJSON(rep)
				return nil
			}
			s := rep.String()
			if !strings.HasSuffix(s, "\n") {
				s += "\n"
			}
			fmt.Fprint(a.stdout, s)
			return nil
		},
	}
}
