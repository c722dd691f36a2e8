package sampler

import (
	"encoding/json"
	"fmt"
)

// Config is the part of a diffusers scheduler_config.json that the samplers
// read. Keys that are absent take the value diffusers' scheduler classes
// default to; keys the samplers never read are ignored, as from_config does.
type Config struct {
	// ClassName is "_class_name"; the sampler is still chosen by name, but
	// NameForClass maps it to the sampler a model ships with.
	ClassName string `json:"_class_name"`
	// NumTrainTimesteps is the length of the training noise schedule.
	NumTrainTimesteps int `json:"num_train_timesteps"`
	// BetaStart and BetaEnd bound the beta schedule.
	BetaStart float64 `json:"beta_start"`
	BetaEnd   float64 `json:"beta_end"`
	// BetaSchedule is "scaled_linear" (SD) or "linear".
	BetaSchedule string `json:"beta_schedule"`
	// StepsOffset shifts leading-spacing timesteps (SD: 1, so 20 steps end at t=1).
	StepsOffset int `json:"steps_offset"`
	// SetAlphaToOne is nil when the file does not say: DDIM then defaults to
	// true and PNDM to false, as their classes do.
	SetAlphaToOne *bool `json:"set_alpha_to_one"`
	// ClipSample clamps DDIM/DDPM's x0 estimate to ±ClipSampleRange; the
	// classes default it to true, SD's configs turn it off.
	ClipSample      bool    `json:"clip_sample"`
	ClipSampleRange float64 `json:"clip_sample_range"`
	// PredictionType is "epsilon" (SD 1.x, SD-Turbo) or "v_prediction"
	// (SD 2.x 768-v models): the UNet predicts v = a_t*eps - s_t*x0.
	PredictionType string `json:"prediction_type"`
	// TimestepSpacing is "" when absent: each sampler then uses its own
	// diffusers default (leading for ddim/ddpm/pndm, linspace for the rest).
	TimestepSpacing string `json:"timestep_spacing"`
	// OriginalInferenceSteps and TimestepScaling are LCMScheduler's (0:
	// its defaults, 50 and 10).
	OriginalInferenceSteps int     `json:"original_inference_steps"`
	TimestepScaling        float64 `json:"timestep_scaling"`
}

// ParseConfig reads a diffusers scheduler_config.json. Schedules this
// package cannot reproduce (trained_betas, other beta schedules) are errors
// here rather than silently different images later.
func ParseConfig(data []byte) (Config, error) {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("sampler: scheduler config: %w", err)
	}
	// Class defaults shared by every diffusers scheduler this package mirrors.
	cfg := Config{
		NumTrainTimesteps: 1000,
		BetaStart:         0.0001,
		BetaEnd:           0.02,
		BetaSchedule:      "linear",
		ClipSample:        true, // DDIM/DDPM default; the others never clip
		ClipSampleRange:   1.0,
		PredictionType:    "epsilon",
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("sampler: scheduler config: %w", err)
	}
	if tb, ok := raw["trained_betas"]; ok && string(tb) != "null" {
		return Config{}, fmt.Errorf("sampler: scheduler config: trained_betas is not supported")
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c Config) validate() error {
	switch c.BetaSchedule {
	case "scaled_linear", "linear":
	default:
		return fmt.Errorf("sampler: beta_schedule %q is not supported (want scaled_linear or linear)", c.BetaSchedule)
	}
	if c.NumTrainTimesteps < 2 {
		return fmt.Errorf("sampler: num_train_timesteps %d must be at least 2", c.NumTrainTimesteps)
	}
	if !(c.BetaStart > 0 && c.BetaEnd > 0 && c.BetaStart < 1 && c.BetaEnd < 1) {
		return fmt.Errorf("sampler: beta_start %g / beta_end %g must lie in (0, 1)", c.BetaStart, c.BetaEnd)
	}
	switch c.TimestepSpacing {
	case "", "leading", "linspace", "trailing":
	default:
		return fmt.Errorf("sampler: timestep_spacing %q is not supported (want leading, linspace or trailing)", c.TimestepSpacing)
	}
	if c.StepsOffset < 0 {
		return fmt.Errorf("sampler: steps_offset %d is negative", c.StepsOffset)
	}
	return nil
}

// DefaultConfig is Stable Diffusion 1.5's scheduler_config.json (a PNDM
// config), what a model folder without a scheduler should behave like.
func DefaultConfig() Config {
	f := false
	return Config{
		ClassName:         "PNDMScheduler",
		NumTrainTimesteps: 1000,
		BetaStart:         0.00085,
		BetaEnd:           0.012,
		BetaSchedule:      "scaled_linear",
		StepsOffset:       1,
		SetAlphaToOne:     &f,
		ClipSample:        false,
		ClipSampleRange:   1.0,
		PredictionType:    "epsilon",
	}
}
