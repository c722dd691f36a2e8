package bench

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/imggen/imggen/internal/model"
)

// loraLayers are the U-Net layers a typical LoRA trains: every attention
// projection and both feed-forward layers of every transformer block.
var loraLayers = regexp.MustCompile(`(attn[12]\.to_(q|k|v|out\.0)|ff\.net\.(0\.proj|2))\.weight$`)

// LoRATensors lists the tensors of a kohya-format LoRA of the given rank on
// every attention and feed-forward layer of s's U-Net: for a layer [out,
// in], lora_down [rank, in] and lora_up [out, rank]. There is no alpha
// (scale 1, as kohya reads it): the random values already give the update
// the size of the weights.
func LoRATensors(s Spec, rank int) ([]Tensor, error) {
	if rank < 1 {
		return nil, fmt.Errorf("rank %d: want at least 1", rank)
	}
	ts, err := s.Tensors()
	if err != nil {
		return nil, err
	}
	dt, _ := s.storageDType()
	var out []Tensor
	for _, t := range ts {
		if t.Component != model.CompUNet || !loraLayers.MatchString(t.Key) || len(t.Shape) != 2 {
			continue
		}
		name := "lora_unet_" + strings.ReplaceAll(strings.TrimSuffix(t.Key, ".weight"), ".", "_")
		out = append(out,
			Tensor{Name: name + ".lora_down.weight", Component: "lora", Key: name + ".lora_down.weight", DType: dt, Shape: []int{rank, t.Shape[1]}},
			Tensor{Name: name + ".lora_up.weight", Component: "lora", Key: name + ".lora_up.weight", DType: dt, Shape: []int{t.Shape[0], rank}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the U-Net has no attention or feed-forward layers")
	}
	return out, nil
}

// WriteLoRA writes the random LoRA of LoRATensors(s, rank) to path, as
// Write writes a checkpoint.
func WriteLoRA(ctx context.Context, path string, s Spec, rank int) (Summary, error) {
	ts, err := LoRATensors(s, rank)
	if err != nil {
		return Summary{}, err
	}
	return write(ctx, path, s, ts, true)
}
