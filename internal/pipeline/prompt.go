package pipeline

import (
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
)

// encode returns the text conditioning for the U-Net: rows [uncond, cond]
// with guidance, else just the prompt; a context of [rows, 77·chunks, C]
// and, for SDXL, the pooled embedding [rows, P]. With several text
// encoders, their contexts are joined token by token along C.
//
// A model with ZerosForNoNegative (SDXL) conditions the unconditional row
// on zeros, context and pooled alike, when no negative prompt was given:
// diffusers' force_zeros_for_empty_prompt.
func (p *Pipeline) encode(req Request, guided bool) (unet.Conditioning, error) {
	zeros := guided && p.Model.ZerosForNoNegative && !req.negativeGiven()
	prompt, _, _ := LoRATags(req.Prompt) // Validate has checked them
	texts := []string{prompt}
	if guided && !zeros {
		texts = []string{req.NegativePrompt, prompt}
	}
	var cond unet.Conditioning
	for _, te := range p.texts {
		emb, pooled, err := te.encode(texts, req)
		if err != nil {
			return cond, err
		}
		if cond.Text == nil {
			cond.Text = emb
		} else {
			cond.Text = joinChannels(cond.Text, emb)
		}
		if pooled != nil {
			cond.Pooled = pooled
		}
	}
	if zeros {
		cond.Text = zeroFirst(cond.Text)
		if cond.Pooled != nil {
			cond.Pooled = zeroFirst(cond.Pooled)
		}
	}
	return cond, nil
}

// zeroFirst returns t with a row of zeros before its rows.
func zeroFirst(t *tensor.Tensor) *tensor.Tensor {
	shape := append([]int{t.Shape[0] + 1}, t.Shape[1:]...)
	out := tensor.New(shape...)
	copy(out.Data[len(t.Data)/t.Shape[0]:], t.Data)
	return out
}

// joinChannels concatenates a [N, L, Ca] and b [N, L, Cb] into [N, L, Ca+Cb].
func joinChannels(a, b *tensor.Tensor) *tensor.Tensor {
	n, l, ca, cb := a.Shape[0], a.Shape[1], a.Shape[2], b.Shape[2]
	out := tensor.New(n, l, ca+cb)
	for r := 0; r < n*l; r++ {
		copy(out.Data[r*(ca+cb):], a.Data[r*ca:(r+1)*ca])
		copy(out.Data[r*(ca+cb)+ca:], b.Data[r*cb:(r+1)*cb])
	}
	return out
}

// encode runs one text encoder on texts: the context [len(texts),
// 77·chunks, C] and, for an encoder whose pooled embedding conditions the
// U-Net, that embedding [len(texts), P], of a long prompt's first chunk as
// AUTOMATIC1111 takes it.
//
// Prompts use AUTOMATIC1111's emphasis syntax ("(word)", "[word]",
// "(word:1.5)"): each token's embedding is scaled by its weight and the
// result rescaled to its original mean. A prompt without that syntax has
// weight 1 everywhere, which leaves the embedding bit for bit as diffusers
// computes it. CLIP skip applies to both rows, as in AUTOMATIC1111 and
// stable-diffusion.cpp. In "chunk" mode a long prompt becomes several
// 77-token chunks whose embeddings are concatenated, and the shorter of
// prompt and negative prompt is padded with empty chunks, as AUTOMATIC1111
// does.
func (te textEncoder) encode(texts []string, req Request) (ctx, pooled *tensor.Tensor, err error) {
	ids := make([][][]int, len(texts))
	weights := make([][][]float64, len(texts))
	chunks := 1
	for i, text := range texts {
		if req.LongPrompts == "chunk" {
			ids[i], weights[i] = te.tokenizer.EncodeWeightedChunks(text)
		} else {
			id, w, _ := te.tokenizer.EncodeWeighted(text)
			ids[i], weights[i] = [][]int{id}, [][]float64{w}
		}
		chunks = max(chunks, len(ids[i]))
	}
	emptyIDs, emptyW, _ := te.tokenizer.EncodeWeighted("")
	var rows [][]int
	var rowWeights [][]float64
	for i := range texts {
		for len(ids[i]) < chunks {
			ids[i], weights[i] = append(ids[i], emptyIDs), append(weights[i], emptyW)
		}
		rows = append(rows, ids[i]...)
		rowWeights = append(rowWeights, weights[i]...)
	}
	var emb, pool *tensor.Tensor
	if te.penultimate {
		emb, pool, err = te.model.EncodeXL(rows, max(req.ClipSkip, 1), te.pooled)
	} else {
		emb, err = te.model.Encode(rows, max(req.ClipSkip, 1))
	}
	if err != nil {
		return nil, nil, err
	}
	if pool != nil {
		// One row per text: its first chunk's.
		d := pool.Shape[1]
		pooled = tensor.New(len(texts), d)
		for i := range texts {
			copy(pooled.Data[i*d:(i+1)*d], pool.Data[i*chunks*d:])
		}
	}
	dim := emb.Shape[2]
	per := textenc.ContextLen * dim
	for r, w := range rowWeights {
		textenc.ApplyWeights(emb.Data[r*per:(r+1)*per], w, dim)
	}
	// Rows are [text][chunk]; chunks of one text are consecutive, which is
	// already the layout of [texts, 77·chunks, C].
	return emb.Reshape(len(texts), textenc.ContextLen*chunks, dim), pooled, nil
}
