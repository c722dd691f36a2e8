package worldeval

import (
	"context"
	"fmt"
	"image"

	"github.com/imggen/imggen/internal/pipeline"
)

// BaseRequest is the request the imggen CLI makes with no flags but
// --sampler and --steps (sampler "" leaves it to the model):
// pipeline.Plan settles the rest from p's model.
func BaseRequest(p *pipeline.Pipeline, sampler string, steps int) (pipeline.Request, error) {
	req, _, err := pipeline.Plan(pipeline.Request{Steps: steps, CFGScale: DefaultCFG, Sampler: sampler}, p.Defaults())
	if err != nil {
		return req, fmt.Errorf("worldeval: %w", err)
	}
	return req, nil
}

// PipelineGenerator generates with p: base with the prompt, seed and cfg
// scale set. It may be called from several goroutines at once.
func PipelineGenerator(ctx context.Context, p *pipeline.Pipeline, base pipeline.Request) Generator {
	return func(prompt string, seed int64, cfg float64) (image.Image, error) {
		req := base
		req.Prompt, req.Seed, req.CFGScale = prompt, seed, cfg
		return p.Generate(ctx, req, nil)
	}
}
