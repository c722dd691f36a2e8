package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/model"
)

func (a *app) inspectCommand(o *genOptions) *cobra.Command {
	var modelPath string
	cmd := &cobra.Command{
		Use:   "inspect MODEL|LORA|EMBEDDING",
		Short: "Describe a model, LoRA or embedding file: architecture, dtypes, sizes",
		Long: `inspect reads a model's headers (not its weights) and prints the detected
architecture, the tensors' dtypes and sizes, and whether imggen can run it.
It exits 1 (after the report) when imggen cannot run the model.

On a LoRA it prints the format, rank(s), alpha(s), which layers of which
networks it updates and the family it was trained for; on a textual-inversion
embedding its vectors and widths. With -m MODEL it also says whether the
file fits that model (and exits 1 when it does not).`,
		Example: `  imggen inspect v1-5-pruned-emaonly.safetensors
  imggen inspect --json ./stable-diffusion-v1-5
  imggen inspect ink-style.safetensors -m v1-5-pruned-emaonly.safetensors`,
		Args: argsN(1, 1, "one model, LoRA or embedding path"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.EqualFold(filepath.Ext(args[0]), ".png") {
				return usagef("%s is a picture, not a model; 'imggen info %s' prints its settings", args[0], args[0])
			}
			if kind := addonKind(args[0]); kind != "" {
				return a.inspectAddon(o, args[0], kind, modelPath)
			}
			if modelPath != "" {
				return usagef("-m is for a LoRA or an embedding; %s is neither", args[0])
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
	cmd.Flags().StringVarP(&modelPath, "model", "m", "", "with a LoRA or embedding: check that it fits this model")
	return cmd
}
