package textenc

import (
	"fmt"
	"math"

	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// TextModel is CLIP's text transformer (transformers' CLIPTextModel): token
// plus position embeddings, pre-LayerNorm encoder layers with causal
// self-attention, and a final LayerNorm.
type TextModel struct {
	cfg      Config
	tokenEmb []float32 // [vocab, hidden]
	added    []float32 // [added tokens, hidden]: textual-inversion rows after the vocabulary
	posEmb   []float32 // [max positions, hidden]
	layers   []*clipLayer
	finalLN  *nn.LayerNorm
	proj     *nn.Linear // text_projection (CLIPTextModelWithProjection); nil without
	act      func([]float32)
}

// clipLayer is one CLIPEncoderLayer.
type clipLayer struct {
	ln1, ln2     *nn.LayerNorm
	q, k, v, out *nn.Linear
	fc1, fc2     *nn.Linear
}

// LoadTextModel reads the weights under "text_model." of l (transformers
// names) and reports the first missing or mis-shaped tensor by key.
func LoadTextModel(cfg Config, l weights.Loader) (*TextModel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d, eps := cfg.HiddenSize, cfg.LayerNormEps
	tm := l.Sub("text_model")
	emb := tm.Sub("embeddings")
	m := &TextModel{
		cfg:      cfg,
		tokenEmb: emb.Sub("token_embedding").Tensor("weight", cfg.VocabSize, d).Data,
		posEmb:   emb.Sub("position_embedding").Tensor("weight", cfg.MaxPositionEmbeddings, d).Data,
		act:      nn.QuickGELU,
	}
	if cfg.HiddenAct == "gelu" { // SD2's OpenCLIP tower uses the exact erf GELU.
		m.act = nn.GELU
	}
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		ll := tm.Subf("encoder.layers.%d", i)
		att, mlp := ll.Sub("self_attn"), ll.Sub("mlp")
		m.layers = append(m.layers, &clipLayer{
			ln1: nn.LoadLayerNorm(ll.Sub("layer_norm1"), d, eps),
			q:   nn.LoadLinear(att.Sub("q_proj"), d, d, true),
			k:   nn.LoadLinear(att.Sub("k_proj"), d, d, true),
			v:   nn.LoadLinear(att.Sub("v_proj"), d, d, true),
			out: nn.LoadLinear(att.Sub("out_proj"), d, d, true),
			ln2: nn.LoadLayerNorm(ll.Sub("layer_norm2"), d, eps),
			fc1: nn.LoadLinear(mlp.Sub("fc1"), d, cfg.IntermediateSize, true),
			fc2: nn.LoadLinear(mlp.Sub("fc2"), cfg.IntermediateSize, d, true),
		})
	}
	m.finalLN = nn.LoadLayerNorm(tm.Sub("final_layer_norm"), d, eps)
	if cfg.Projected() {
		m.proj = nn.LoadLinear(l.Sub("text_projection"), d, cfg.ProjectionDim, false)
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	return m, nil
}

// SetAddedTokens gives the ids from the vocabulary size on the embedding
// rows [n, hidden] (textual inversion; nil removes them). first must be
// the vocabulary size. It must not be called while the model runs.
func (m *TextModel) SetAddedTokens(first int, rows []float32) error {
	d := m.cfg.HiddenSize
	switch {
	case len(rows) > 0 && first != m.cfg.VocabSize:
		return fmt.Errorf("added tokens from id %d, but this text encoder's vocabulary has %d", first, m.cfg.VocabSize)
	case len(rows)%d != 0:
		return fmt.Errorf("added token rows of %d values are not rows of %d", len(rows), d)
	}
	m.added = rows
	return nil
}

// Config returns the configuration the model was loaded with.
func (m *TextModel) Config() Config { return m.cfg }

// Encode returns the context the U-Net attends to, [batch, seq, hidden]:
// final_layer_norm(hidden_states[-clipSkip]). clipSkip 1 is the last layer
// (plain SD); 2 is the penultimate, AUTOMATIC1111's "CLIP skip 2" (diffusers'
// clip_skip=1). Layers after the chosen one are not run.
func (m *TextModel) Encode(ids [][]int, clipSkip int) (*tensor.Tensor, error) {
	n := len(m.layers)
	if clipSkip < 1 || clipSkip > n {
		return nil, fmt.Errorf("text encoder: clip skip %d outside 1..%d", clipSkip, n)
	}
	hs, err := m.run(ids, n+1-clipSkip)
	if err != nil {
		return nil, err
	}
	return m.finalLN.Forward(hs[len(hs)-1]), nil
}

// EncodeXL is SDXL's use of a tower: the context is hidden_states[-2]
// without the final LayerNorm, one layer further back for each step of
// clipSkip above 1 (diffusers' clip_skip = clipSkip-1); with pooled, also
// the pooled embedding of the full tower, projected when the tower has a
// text projection (text_embeds), which CLIP skip does not change.
func (m *TextModel) EncodeXL(ids [][]int, clipSkip int, pooled bool) (ctx, pool *tensor.Tensor, err error) {
	n := len(m.layers)
	if clipSkip < 1 || clipSkip > n {
		return nil, nil, fmt.Errorf("text encoder: clip skip %d outside 1..%d", clipSkip, n)
	}
	upTo := n - clipSkip
	if pooled {
		upTo = n
	}
	hs, err := m.run(ids, upTo)
	if err != nil {
		return nil, nil, err
	}
	ctx = hs[n-clipSkip]
	if pooled {
		pool = Pooled(m.finalLN.Forward(hs[n]), ids)
		if m.proj != nil {
			pool = m.proj.Forward(pool)
		}
	}
	return ctx, pool, nil
}

// HiddenStates returns transformers' output_hidden_states: index 0 is the
// embedding output, index i the output of layer i before the final
// LayerNorm; layers+1 tensors of [batch, seq, hidden].
func (m *TextModel) HiddenStates(ids [][]int) ([]*tensor.Tensor, error) {
	return m.run(ids, len(m.layers))
}

// Pooled picks, per row of last ([batch, seq, hidden], normed), the state at
// the first EOS. transformers finds it as the argmax of the ids (its path for
// configs with the legacy eos_token_id 2, which SD's carry), which is the
// same place while EOS (49407) is the largest id; with added
// (textual-inversion) tokens it is not, and this pools at the end of text
// as OpenCLIP, kohya's trainers and AUTOMATIC1111 do.
func Pooled(last *tensor.Tensor, ids [][]int) *tensor.Tensor {
	seq, d := last.Shape[1], last.Shape[2]
	y := tensor.New(len(ids), d)
	for b, row := range ids {
		p := len(row) - 1
		for i, id := range row {
			if id == EOT {
				p = i
				break
			}
		}
		copy(y.Data[b*d:(b+1)*d], last.Data[(b*seq+p)*d:])
	}
	return y
}

// run embeds ids and applies the first upTo layers, returning every state.
func (m *TextModel) run(ids [][]int, upTo int) ([]*tensor.Tensor, error) {
	seq, err := m.checkIDs(ids)
	if err != nil {
		return nil, err
	}
	x := m.embed(ids, seq)
	hs := []*tensor.Tensor{x}
	for _, ly := range m.layers[:upTo] {
		x = ly.forward(x, len(ids), seq, m.cfg.NumAttentionHeads, m.act)
		hs = append(hs, x)
	}
	return hs, nil
}

// checkIDs requires a non-empty batch of equal-length rows of in-vocabulary
// ids that fit the position table, and returns the row length.
func (m *TextModel) checkIDs(ids [][]int) (int, error) {
	if len(ids) == 0 || len(ids[0]) == 0 {
		return 0, fmt.Errorf("text encoder: no token ids")
	}
	seq := len(ids[0])
	if seq > m.cfg.MaxPositionEmbeddings {
		return 0, fmt.Errorf("text encoder: %d tokens, at most %d", seq, m.cfg.MaxPositionEmbeddings)
	}
	for b, row := range ids {
		if len(row) != seq {
			return 0, fmt.Errorf("text encoder: row %d has %d ids, row 0 has %d", b, len(row), seq)
		}
		n := m.cfg.VocabSize + len(m.added)/m.cfg.HiddenSize
		for i, id := range row {
			if id < 0 || id >= n {
				return 0, fmt.Errorf("text encoder: id %d at row %d position %d outside vocabulary 0..%d", id, b, i, n-1)
			}
		}
	}
	return seq, nil
}

// embed is CLIPTextEmbeddings: token_embedding(id) + position_embedding(pos),
// positions 0..seq-1.
func (m *TextModel) embed(ids [][]int, seq int) *tensor.Tensor {
	d := m.cfg.HiddenSize
	x := tensor.New(len(ids), seq, d)
	for b, row := range ids {
		for p, id := range row {
			out := x.Data[(b*seq+p)*d : (b*seq+p+1)*d]
			table, row := m.tokenEmb, id
			if id >= m.cfg.VocabSize {
				table, row = m.added, id-m.cfg.VocabSize
			}
			tok, pos := table[row*d:(row+1)*d], m.posEmb[p*d:(p+1)*d]
			for j := range out {
				out[j] = tok[j] + pos[j]
			}
		}
	}
	return x
}

// forward is the pre-LN residual block:
//
//	x = x + out_proj(causal_self_attention(layer_norm1(x)))
//	x = x + fc2(act(fc1(layer_norm2(x))))
//
// SD passes no padding mask, so padding positions attend to every earlier
// token; only the causal mask applies.
func (ly *clipLayer) forward(x *tensor.Tensor, batch, seq, heads int, act func([]float32)) *tensor.Tensor {
	d := x.Shape[2]
	h := ly.ln1.Forward(x)
	q, k, v := ly.q.Forward(h), ly.k.Forward(h), ly.v.Forward(h)
	// CLIPAttention scales q by head_dim^-0.5 before q·kᵀ (not the scores
	// after), so do the same to round alike; Attention then scales by 1.
	scale := float32(math.Pow(float64(d/heads), -0.5))
	for i := range q.Data {
		q.Data[i] *= scale
	}
	a := tensor.New(x.Shape...)
	n := seq * d
	for b := 0; b < batch; b++ {
		o := nn.Attention(q.Data[b*n:(b+1)*n], k.Data[b*n:(b+1)*n], v.Data[b*n:(b+1)*n], seq, seq, d, heads, 1, true)
		copy(a.Data[b*n:(b+1)*n], o)
	}
	x = nn.Add(x, ly.out.Forward(a))

	h = ly.fc1.Forward(ly.ln2.Forward(x))
	act(h.Data)
	return nn.Add(x, ly.fc2.Forward(h))
}
