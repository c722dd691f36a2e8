package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/pngout"
)

// infoRecord is one PNG of imggen info --json.
type infoRecord struct {
	Path           string            `json:"path"`
	Prompt         string            `json:"prompt"`
	NegativePrompt string            `json:"negative_prompt"`
	Settings       map[string]string `json:"settings"`
	Error          string            `json:"error,omitempty"`
}

func (a *app) infoCommand(o *genOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "info PNG...",
		Short: "Print the settings stored in PNGs made by imggen or AUTOMATIC1111",
		Long: `info prints the "parameters" text of each PNG: the prompt, the negative
prompt and the settings, as imggen and AUTOMATIC1111 write them. With --json,
one object per file. 'imggen reproduce PNG' makes the picture again.`,
		Example: `  imggen info out.png
  imggen info --json out/*.png`,
		Args: argsN(1, -1, "one or more PNGs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, path := range args {
				p, err := readParameters(path)
				if err != nil {
					failed++
					fmt.Fprintf(a.stderr, "imggen: %v\n", err)
				}
				if o.json {
					rec := infoRecord{Path: path, Prompt: p.Prompt, NegativePrompt: p.NegativePrompt, Settings: map[string]string{}}
					for _, kv := range p.Settings {
						rec.Settings[kv[0]] = kv[1]
					}
					if err != nil {
						rec.Error = err.Error()
					}
					a.writeJSON(rec)
					continue
				}
				if err == nil {
					if len(args) > 1 {
						fmt.Fprintf(a.stdout, "== %s\n", path)
					}
					text, _ := pngout.ReadParameters(path)
					fmt.Fprintln(a.stdout, text)
				}
			}
			if failed > 0 {
				return errReported
			}
			return nil
		},
	}
}

// readParameters reads and parses a PNG's parameters.
func readParameters(path string) (pipeline.Parameters, error) {
	text, err := pngout.ReadParameters(path)
	if errors.Is(err, pngout.ErrNoParameters) {
		return pipeline.Parameters{}, fmt.Errorf("%s: the PNG holds no parameters (not made by imggen or AUTOMATIC1111)", path)
	}
	if err != nil {
		return pipeline.Parameters{}, fmt.Errorf("%s: %w", path, err)
	}
	p, err := pipeline.ParseInfoText(text)
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func (a *app) reproduceCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reproduce PNG [flags]",
		Short: "Make a picture again from the settings stored in its PNG",
		Long: `reproduce reads the settings of a PNG made by imggen or AUTOMATIC1111 and
generates it again: the same model (-m or IMGGEN_MODEL) gives the same bytes.
Any generate flag after the PNG overrides a stored setting (--seed 5, -o
new.png). It warns when the model's hash is not the recorded one. A picture
made from an init image needs it again with -i; one made with a replaced
VAE needs --vae.`,
		Example: `  imggen reproduce out.png -o again.png
  imggen reproduce a1111.png -m v1-5-pruned-emaonly.safetensors --seed 43`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || strings.HasPrefix(args[0], "-") {
				if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
					return cmd.Help()
				}
				return usagef("reproduce needs the PNG first: imggen reproduce PNG [flags]")
			}
			p, err := readParameters(args[0])
			if err != nil {
				return err
			}
			gen, err := reproduceArgs(p, args[1:])
			if err != nil {
				return err
			}
			root := a.rootCommand()
			root.SetArgs(gen)
			return root.ExecuteContext(cmd.Context())
		},
	}
}

// reproduceArgs turns stored settings into generate flags, followed by the
// user's (which override them) and the prompt.
func reproduceArgs(p pipeline.Parameters, user []string) ([]string, error) {
	has := func(flags ...string) bool {
		for _, u := range user {
			for _, f := range flags {
				if u == f || strings.HasPrefix(u, f+"=") {
					return true
				}
			}
		}
		return false
	}
	var args []string
	if p.NegativeGiven || p.NegativePrompt != "" {
		args = append(args, "-n", p.NegativePrompt)
	}
	flagOf := map[string]string{
		"Steps": "--steps", "CFG scale": "--cfg-scale", "Seed": "--seed", "Clip skip": "--clip-skip",
		"Eta DDIM": "--eta", "Timestep spacing": "--timestep-spacing", "Prediction": "--prediction",
		"Long prompts": "--long-prompts", "Denoising strength": "--strength", "Model hash": "--expect-model-hash",
		"VAE tiling": "--vae-tiling", "Original size": "--original-size", "Crop top-left": "--crop-coords", "Target size": "--target-size",
		"Precision": "--precision",
	}
	for _, kv := range p.Settings {
		if f, ok := flagOf[kv[0]]; ok {
			args = append(args, f, kv[1])
		}
	}
	if s, ok := p.Get("Sampler"); ok {
		args = append(args, "--sampler", s)
		if _, implied := pipeline.ResolveSampler(s); implied == "" {
			args = append(args, "--schedule", "default") // "DPM++ 2M" without Karras
		}
	}
	if size, ok := p.Get("Size"); ok {
		w, h, ok := strings.Cut(size, "x")
		if !ok {
			return nil, fmt.Errorf("stored size %q is not WxH", size)
		}
		args = append(args, "-W", w, "-H", h)
	}
	if _, ok := p.Get("Denoising strength"); ok && !has("-i", "--init-image") {
		return nil, usagef("this picture was made from an init image: give it again with -i FILE")
	}
	if v, ok := p.Get("VAE"); ok && !has("--vae") {
		return nil, usagef("this picture was made with the VAE %s: give it with --vae FILE", v)
	}
	return append(append(args, user...), "--", p.Prompt), nil
}
