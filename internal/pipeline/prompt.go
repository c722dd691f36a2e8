package pipeline

import (
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/textenc"
)

// encode returns the text context for the U-Net: [uncond, cond] with
// guidance, else just the prompt, [rows, 77·chunks, C]. With several text
// encoders, their outputs are joined token by token along C.
func (p *Pipeline) encode(req Request, guided bool) (*tensor.Tensor, error) {
	texts := []string{req.Prompt}
	if guided {
		texts = []string{req.NegativePrompt, req.Prompt}
	}
	var out *tensor.Tensor
	for _, te := range p.texts {
		emb, err := te.encode(texts, req)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = emb
		} else {
			out = joinChannels(out, emb)
		}
	}
	return out, nil
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

// encode runs one text encoder on texts, [len(texts), 77·chunks, C].
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
func (te textEncoder) encode(texts []string, req Request) (*tensor.Tensor, error) {
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
	emb, err := te.model.Encode(rows, max(req.ClipSkip, 1))
	if err != nil {
		return nil, err
	}
	dim := emb.Shape[2]
	per := textenc.ContextLen * dim
	for r, w := range rowWeights {
		textenc.ApplyWeights(emb.Data[r*per:(r+1)*per], w, dim)
	}
	// Rows are [text][chunk]; chunks of one text are consecutive, which is
	// already the layout of [texts, 77·chunks, C].
	return emb.Reshape(len(texts), textenc.ContextLen*chunks, dim), nil
}
