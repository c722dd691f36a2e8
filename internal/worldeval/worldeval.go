// Package worldeval measures a text-to-image model on the procedural world
// (internal/world) with the judge (internal/judge): prompt adherence on
// held-out prompts at several guidance scales, diversity across seeds,
// realism as a Fréchet distance to rendered scenes, and a contact sheet.
//
// The measuring code never sees a model: it calls a Generator, so tests can
// pass a fake one (the renderer, noise) and cmd/worldeval passes the
// built-in model's pipeline (see PipelineGenerator).
package worldeval

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imggen/imggen/internal/judge"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/world"
)

// Generator makes one image of prompt with the given seed and
// classifier-free guidance scale. It must be deterministic.
type Generator func(prompt string, seed int64, cfg float64) (image.Image, error)

// Attrs are the judged attributes, in the judge's order.
var Attrs = []string{"time", "object", "kind", "colour", "position", "ground", "style"}

// ConfusionAttrs are the attributes whose confusion tables are kept.
var ConfusionAttrs = []string{"time", "style"}

// ContactPrompts are the contact sheet's rows: every time of day and every
// style at least once (the first row is the README's example prompt).
var ContactPrompts = []string{
	"sunset over the sea, oil painting",
	"a red boat on a lake at dawn, watercolor",
	"a big yellow star in the night sky above the desert, pixel art",
	"a green tree on grass in the day, plain",
	"a white house in the desert at night, sketch",
	"a blue triangle on the left, sea at sunset, watercolor",
	"a pink circle over hills at dawn, oil painting",
	"a brown square on grass in the day, pixel art",
}

// Config chooses the sizes of an evaluation. Zero fields take the
// defaults of DefaultConfig.
type Config struct {
	N                int       // held-out prompts for adherence (and realism)
	PromptSeed       int64     // seed of world.EvalPrompts and of the rendered reference sets
	CFGs             []float64 // guidance scales to measure
	DefaultCFG       float64   // scale of the realism figure and the contact sheet
	DiversityPrompts int       // prompts (the first of the adherence set) for diversity
	Seeds            int       // seeds per diversity prompt
	ContactRows      int       // contact sheet rows (prompts)
	ContactCols      int       // contact sheet columns (seeds)

	// Settings describes the generator for the report (model, sampler,
	// steps, size); it does not change what is measured.
	Settings map[string]string
	// Progress, when set, receives a line now and then.
	Progress io.Writer
	// Workers is how many images are made at once (default 1); with more
	// than one, the Generator must be safe for concurrent use.
	Workers int
}

// DefaultCFG is the scale of the realism figure and the contact sheet:
// the pipeline's (and imggen's) default.
const DefaultCFG = pipeline.DefaultCFGScale

// DefaultConfig is the evaluation the project's issue asks for: 200
// held-out prompts at cfg 1, 3 and 7.5; diversity over 40 of them with 4
// seeds each (240 pairs per scale); a contact sheet of 8 x 4. The whole
// run (992 images) takes about 13 minutes on 2 CPU cores.
func DefaultConfig() Config {
	return Config{
		N:                200,
		PromptSeed:       1,
		CFGs:             []float64{1, 3, 7.5},
		DefaultCFG:       DefaultCFG,
		DiversityPrompts: 40,
		Seeds:            4,
		ContactRows:      8,
		ContactCols:      4,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.N == 0 {
		c.N = d.N
	}
	if c.PromptSeed == 0 {
		c.PromptSeed = d.PromptSeed
	}
	if len(c.CFGs) == 0 {
		c.CFGs = d.CFGs
	}
	if c.DefaultCFG == 0 {
		c.DefaultCFG = d.DefaultCFG
	}
	if c.DiversityPrompts == 0 {
		c.DiversityPrompts = d.DiversityPrompts
	}
	if c.Seeds == 0 {
		c.Seeds = d.Seeds
	}
	if c.ContactRows == 0 {
		c.ContactRows = d.ContactRows
	}
	if c.ContactCols == 0 {
		c.ContactCols = d.ContactCols
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.N < 2:
		return fmt.Errorf("need at least 2 adherence prompts (the Fréchet distance needs 2 images), got %d", c.N)
	case c.DiversityPrompts < 0 || c.DiversityPrompts > c.N:
		return fmt.Errorf("diversity prompts must be between 0 and the number of prompts (%d), got %d", c.N, c.DiversityPrompts)
	case c.Seeds < 2:
		return fmt.Errorf("diversity needs at least 2 seeds, got %d", c.Seeds)
	case c.ContactRows < 1 || c.ContactCols < 1:
		return fmt.Errorf("contact sheet needs at least 1 row and 1 column, got %dx%d", c.ContactRows, c.ContactCols)
	}
	for _, g := range c.CFGs {
		if !(g >= 0 && g <= 100) {
			return fmt.Errorf("cfg scale %g out of range [0, 100]", g)
		}
	}
	if !(c.DefaultCFG >= 0 && c.DefaultCFG <= 100) {
		return fmt.Errorf("default cfg scale %g out of range [0, 100]", c.DefaultCFG)
	}
	return nil
}

// Seeds: every image's seed is a fixed function of what it is for.

// PromptSeed is the seed of adherence prompt i (and of the first diversity
// seed of that prompt, so that image is shared).
func PromptSeed(i int) int64 { return 1000 + int64(i) }

// DiversitySeed is the seed of diversity image k of prompt i; k = 0 is
// PromptSeed(i).
func DiversitySeed(i, k int) int64 { return PromptSeed(i) + int64(k)*1_000_000 }

// ContactSeed is the seed of the contact sheet's cell (row, col).
func ContactSeed(row, col int) int64 { return 50_000_000 + int64(row)*1000 + int64(col) }

// AttrScore is the judge's accuracy on one attribute over the prompts that
// ask for it.
type AttrScore struct {
	Attr     string  `json:"attr"`
	Asked    int     `json:"asked"`
	OK       int     `json:"ok"`
	Accuracy float64 `json:"accuracy"` // OK/Asked, 0 when nothing was asked
}

// Adherence is the judge's verdict on the adherence set at one scale.
type Adherence struct {
	CFG           float64     `json:"cfg"`
	Images        int         `json:"images"`
	Attrs         []AttrScore `json:"attrs"` // in Attrs order
	Accepted      int         `json:"accepted"`
	AcceptedShare float64     `json:"accepted_share"`
	// Confusion[attr][asked][seen] counts the time and style checks.
	Confusion map[string]map[string]map[string]int `json:"confusion"`
}

// Attr returns the score of one attribute.
func (a Adherence) Attr(name string) AttrScore {
	for _, s := range a.Attrs {
		if s.Attr == name {
			return s
		}
	}
	return AttrScore{Attr: name}
}

// Diversity is the pixel distance between images of the same prompt across
// seeds at one scale: over every unordered pair of seeds of every prompt,
// the mean absolute difference of the R, G and B values (0..255) and the
// root mean square difference, each averaged over pairs.
type Diversity struct {
	CFG     float64 `json:"cfg"`
	Prompts int     `json:"prompts"`
	Seeds   int     `json:"seeds"`
	Pairs   int     `json:"pairs"`
	MeanAbs float64 `json:"mean_abs_diff"`
	RMS     float64 `json:"rms_diff"`
}

// Realism is the Fréchet distance between judge.Features of the generated
// adherence images and of as many rendered held-out scenes (set A), next to
// that between two disjoint rendered sets (A and B) of the same size.
type Realism struct {
	Images            int                `json:"images"`
	DefaultCFG        float64            `json:"default_cfg"`
	GeneratedVsRender float64            `json:"generated_vs_rendered"`
	ByCFG             map[string]float64 `json:"generated_vs_rendered_by_cfg"`
	RenderVsRender    float64            `json:"rendered_vs_rendered"`
}

// ContactRow is one row of the contact sheet.
type ContactRow struct {
	Prompt   string  `json:"prompt"`
	Seeds    []int64 `json:"seeds"`
	Accepted int     `json:"accepted"` // images of the row the judge fully accepts
}

// Record is the judge's verdict on one adherence image.
type Record struct {
	Index    int           `json:"index"`
	Prompt   string        `json:"prompt"`
	Seed     int64         `json:"seed"`
	CFG      float64       `json:"cfg"`
	Checks   []judge.Check `json:"checks"`
	Accepted bool          `json:"accepted"`
}

// Result is a whole evaluation.
type Result struct {
	Settings     map[string]string `json:"settings"`
	N            int               `json:"n"`
	PromptSeed   int64             `json:"prompt_seed"`
	CFGs         []float64         `json:"cfgs"`
	DefaultCFG   float64           `json:"default_cfg"`
	Adherence    []Adherence       `json:"adherence"`
	Diversity    []Diversity       `json:"diversity"`
	Realism      Realism           `json:"realism"`
	Contact      []ContactRow      `json:"contact"`
	ContactCols  int               `json:"contact_cols"`
	Records      []Record          `json:"records"`
	ContactSheet *image.RGBA       `json:"-"`
}

// Images counts the images an evaluation of c generates.
func (c Config) Images() int {
	c = c.withDefaults()
	n := len(c.CFGs) * (c.N + c.DiversityPrompts*(c.Seeds-1))
	if !slices.Contains(c.CFGs, c.DefaultCFG) {
		n += c.N
	}
	return n + c.ContactRows*c.ContactCols
}

// Run makes every image with gen and measures them. The result depends
// only on c (less Progress and Workers) and on gen. With c.Workers > 1, gen
// is called from that many goroutines at once and must allow it.
func Run(gen Generator, c Config) (*Result, error) {
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	prompts := world.EvalPrompts(c.N, c.PromptSeed)
	res := &Result{Settings: c.Settings, N: c.N, PromptSeed: c.PromptSeed, CFGs: c.CFGs,
		DefaultCFG: c.DefaultCFG, ContactCols: c.ContactCols}

	cfgs := slices.Clone(c.CFGs)
	if !slices.Contains(cfgs, c.DefaultCFG) {
		cfgs = append(cfgs, c.DefaultCFG) // for realism only
	}

	// Plan every image, then make them all, then measure.
	var jobs []job
	add := func(prompt string, seed int64, cfg float64) int {
		jobs = append(jobs, job{prompt, seed, cfg})
		return len(jobs) - 1
	}
	adJob := make([][]int, len(cfgs))      // [cfg][prompt]
	divJob := make([][][]int, len(c.CFGs)) // [cfg][prompt][seed]
	for ci, cfg := range cfgs {
		for i, p := range prompts {
			adJob[ci] = append(adJob[ci], add(p.Prompt, PromptSeed(i), cfg))
			if ci < len(c.CFGs) && i < c.DiversityPrompts {
				ids := []int{adJob[ci][i]}
				for k := 1; k < c.Seeds; k++ {
					ids = append(ids, add(p.Prompt, DiversitySeed(i, k), cfg))
				}
				divJob[ci] = append(divJob[ci], ids)
			}
		}
	}
	contact := contactPrompts(c.ContactRows, c.PromptSeed)
	contactJob := make([][]int, len(contact))
	for r, prompt := range contact {
		for col := 0; col < c.ContactCols; col++ {
			contactJob[r] = append(contactJob[r], add(prompt, ContactSeed(r, col), c.DefaultCFG))
		}
	}
	imgs, err := generateAll(gen, jobs, max(1, c.Workers), c.Progress)
	if err != nil {
		return nil, err
	}

	feats := map[float64][][]float64{}
	for ci, cfg := range cfgs {
		ad := Adherence{CFG: cfg, Confusion: map[string]map[string]map[string]int{}}
		tally := map[string]*AttrScore{}
		for _, a := range Attrs {
			tally[a] = &AttrScore{Attr: a}
		}
		for i, p := range prompts {
			img := imgs[adJob[ci][i]]
			feats[cfg] = append(feats[cfg], judge.Features(img))
			if ci >= len(c.CFGs) {
				continue
			}
			r := judge.Judge(img, p.Prompt)
			for _, ch := range r.Checks {
				t := tally[ch.Attr]
				if t == nil { // an attribute this package does not know yet
					t = &AttrScore{Attr: ch.Attr}
					tally[ch.Attr] = t
				}
				t.Asked++
				if ch.OK {
					t.OK++
				}
				if slices.Contains(ConfusionAttrs, ch.Attr) {
					m := ad.Confusion[ch.Attr]
					if m == nil {
						m = map[string]map[string]int{}
						ad.Confusion[ch.Attr] = m
					}
					if m[ch.Asked] == nil {
						m[ch.Asked] = map[string]int{}
					}
					m[ch.Asked][ch.Seen]++
				}
			}
			ad.Images++
			if r.Accepted() {
				ad.Accepted++
			}
			res.Records = append(res.Records, Record{Index: i, Prompt: p.Prompt, Seed: PromptSeed(i),
				CFG: cfg, Checks: r.Checks, Accepted: r.Accepted()})
		}
		if ci >= len(c.CFGs) {
			continue
		}
		for _, a := range Attrs {
			ad.Attrs = append(ad.Attrs, finish(*tally[a]))
		}
		for _, a := range sortedKeys(tally) {
			if !slices.Contains(Attrs, a) {
				ad.Attrs = append(ad.Attrs, finish(*tally[a]))
			}
		}
		ad.AcceptedShare = frac(ad.Accepted, ad.Images)
		res.Adherence = append(res.Adherence, ad)

		div := Diversity{CFG: cfg, Prompts: c.DiversityPrompts, Seeds: c.Seeds}
		var sumAbs, sumRMS float64
		for _, ids := range divJob[ci] {
			for a := range ids {
				for b := a + 1; b < len(ids); b++ {
					mad, rms, err := PixelDistance(imgs[ids[a]], imgs[ids[b]])
					if err != nil {
						return nil, err
					}
					sumAbs += mad
					sumRMS += rms
					div.Pairs++
				}
			}
		}
		if div.Pairs > 0 {
			div.MeanAbs, div.RMS = sumAbs/float64(div.Pairs), sumRMS/float64(div.Pairs)
		}
		res.Diversity = append(res.Diversity, div)
	}

	refA, refB := RenderedFeatures(c.N, c.PromptSeed)
	res.Realism = Realism{
		Images:            c.N,
		DefaultCFG:        c.DefaultCFG,
		GeneratedVsRender: judge.FrechetDistance(feats[c.DefaultCFG], refA),
		ByCFG:             map[string]float64{},
		RenderVsRender:    judge.FrechetDistance(refB, refA),
	}
	for _, cfg := range c.CFGs {
		res.Realism.ByCFG[FormatCFG(cfg)] = judge.FrechetDistance(feats[cfg], refA)
	}

	var cells [][]image.Image
	for r, prompt := range contact {
		row := ContactRow{Prompt: prompt}
		var rowImgs []image.Image
		for col, id := range contactJob[r] {
			row.Seeds = append(row.Seeds, ContactSeed(r, col))
			if judge.Judge(imgs[id], prompt).Accepted() {
				row.Accepted++
			}
			rowImgs = append(rowImgs, imgs[id])
		}
		res.Contact = append(res.Contact, row)
		cells = append(cells, rowImgs)
	}
	res.ContactSheet = ContactSheet(cells, 4)
	return res, nil
}

type job struct {
	prompt string
	seed   int64
	cfg    float64
}

// generateAll makes every job's image with workers goroutines; the first
// error (in job order) wins.
func generateAll(gen Generator, jobs []job, workers int, progress io.Writer) ([]image.Image, error) {
	imgs := make([]image.Image, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var mu sync.Mutex
	done, reported, start := 0, 0, time.Now()
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				img, err := gen(j.prompt, j.seed, j.cfg)
				if err == nil && img == nil {
					err = errors.New("no image")
				}
				if err != nil {
					errs[i] = fmt.Errorf("generate %q (seed %d, cfg %g): %w", j.prompt, j.seed, j.cfg, err)
					failed.Store(true)
					continue
				}
				imgs[i] = img
				if progress == nil {
					continue
				}
				mu.Lock()
				done++
				if done-reported >= max(1, len(jobs)/10) || done == len(jobs) {
					reported = done
					el := time.Since(start)
					eta := ""
					if done < len(jobs) {
						eta = fmt.Sprintf(", about %s left", (time.Duration(float64(el) / float64(done) * float64(len(jobs)-done))).Round(time.Second))
					}
					fmt.Fprintf(progress, "worldeval: %d/%d images in %s%s\n", done, len(jobs), el.Round(time.Second), eta)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range jobs {
		if failed.Load() {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return imgs, nil
}

// contactPrompts is ContactPrompts, cut or extended with held-out prompts
// to n rows.
func contactPrompts(n int, seed int64) []string {
	out := slices.Clone(ContactPrompts)
	if n > len(out) {
		for _, p := range world.EvalPrompts(n-len(out), seed+7) {
			out = append(out, p.Prompt)
		}
	}
	return out[:n]
}

// RenderedFeatures returns judge.Features of two disjoint sets of n
// rendered held-out scenes, A and B; they depend only on (n, seed).
func RenderedFeatures(n int, seed int64) (a, b [][]float64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ea1))
	for i := 0; i < 2*n; i++ {
		f := judge.Features(world.Render(world.RandomHeldOut(rng), 7_000_000+int64(i)))
		if i < n {
			a = append(a, f)
		} else {
			b = append(b, f)
		}
	}
	return a, b
}

// PixelDistance is the mean absolute difference and the root mean square
// difference of the R, G and B values (0..255) of two images of one size.
func PixelDistance(a, b image.Image) (meanAbs, rms float64, err error) {
	ra, rb := toRGBA(a), toRGBA(b)
	if ra.Rect.Size() != rb.Rect.Size() {
		return 0, 0, fmt.Errorf("images of different sizes: %v and %v", ra.Rect.Size(), rb.Rect.Size())
	}
	w, h := ra.Rect.Dx(), ra.Rect.Dy()
	if w == 0 || h == 0 {
		return 0, 0, errors.New("empty image")
	}
	var sa, ss float64
	for y := 0; y < h; y++ {
		pa := ra.Pix[y*ra.Stride:]
		pb := rb.Pix[y*rb.Stride:]
		for x := 0; x < w; x++ {
			for ch := 0; ch < 3; ch++ {
				d := float64(pa[4*x+ch]) - float64(pb[4*x+ch])
				sa += math.Abs(d)
				ss += d * d
			}
		}
	}
	n := float64(3 * w * h)
	return sa / n, math.Sqrt(ss / n), nil
}

// ContactSheet lays the images out as a grid, rows[r][c] at row r and
// column c, each cell as large as the largest image, gap pixels of white
// between cells and around the grid.
func ContactSheet(rows [][]image.Image, gap int) *image.RGBA {
	cw, ch, cols := 0, 0, 0
	for _, row := range rows {
		cols = max(cols, len(row))
		for _, img := range row {
			cw = max(cw, img.Bounds().Dx())
			ch = max(ch, img.Bounds().Dy())
		}
	}
	sheet := image.NewRGBA(image.Rect(0, 0, gap+cols*(cw+gap), gap+len(rows)*(ch+gap)))
	draw.Draw(sheet, sheet.Rect, image.White, image.Point{}, draw.Src)
	for r, row := range rows {
		for c, img := range row {
			at := image.Pt(gap+c*(cw+gap), gap+r*(ch+gap))
			draw.Draw(sheet, image.Rectangle{Min: at, Max: at.Add(img.Bounds().Size())}, img, img.Bounds().Min, draw.Src)
		}
	}
	return sheet
}

func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok {
		return r
	}
	r := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(r, r.Rect, img, img.Bounds().Min, draw.Src)
	return r
}

func finish(s AttrScore) AttrScore {
	s.Accuracy = frac(s.OK, s.Asked)
	return s
}

func frac(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FormatCFG writes a guidance scale the way the report does (7.5, 1, 3).
func FormatCFG(cfg float64) string { return fmt.Sprintf("%g", cfg) }
