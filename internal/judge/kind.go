package judge

import (
	"math"
	"sort"
	"sync"

	"github.com/imggen/imggen/internal/world"
)

// shapeDescriptor describes a blob independently of its size: the width of
// its bounding box's rows at 8 heights and the height of its columns at 8
// positions (both relative to the widest / tallest), the share of the box
// it fills and its aspect ratio.
func shapeDescriptor(blob []int) []float64 {
	x0, y0, x1, y1 := N, N, -1, -1
	for _, i := range blob {
		x, y := i%N, i/N
		x0, x1 = min(x0, x), max(x1, x)
		y0, y1 = min(y0, y), max(y1, y)
	}
	w, h := x1-x0+1, y1-y0+1
	rowW := make([]float64, h)
	colH := make([]float64, w)
	for _, i := range blob {
		rowW[i/N-y0]++
		colH[i%N-x0]++
	}
	profile := func(v []float64) []float64 {
		mx := 0.0
		for _, x := range v {
			mx = max(mx, x)
		}
		out := make([]float64, 8)
		for k := range out {
			out[k] = v[int((float64(k)+0.5)/8*float64(len(v)))] / mx
		}
		return out
	}
	d := append(profile(rowW), profile(colH)...)
	return append(d, float64(len(blob))/float64(w*h), math.Log(float64(w)/float64(h)))
}

// kindModel holds one mean shape descriptor per kind, learnt from renders
// of the world (all styles) on first use, and the per-feature spread that
// scales distances.
var kindModel struct {
	once   sync.Once
	means  map[string][]float64
	scale  []float64
	protos [][]float64 // every training descriptor, for nearest neighbours
	labels []string
}

func buildKindModel() {
	const per = 60
	means := map[string][]float64{}
	var all [][]float64
	var labels []string
	for ki, kind := range world.Kinds {
		for i := 0; i < per; i++ {
			s := world.Scene{Time: world.Times[i%4], Relief: "none", Light: "none", Kind: kind,
				Colour: world.Colours[(i+ki)%10], Size: world.Sizes[i%3], Style: world.Styles[i%5]}
			switch kind {
			case "boat":
				s.Ground = []string{"sea", "lake"}[i%2]
				s.Position = []string{"centre", "bottom"}[i/2%2]
			case "tree", "house":
				s.Ground = []string{"desert", "grass"}[i%2]
				s.Position = []string{"centre", "bottom"}[i/2%2]
			default:
				s.Ground = world.Grounds[i%4]
				s.Position = []string{"centre", "top", "bottom"}[i/4%3]
			}
			blob, _ := objectBlob(toRaster(world.Render(s, int64(7000+i))))
			if blob == nil {
				continue
			}
			d := shapeDescriptor(blob)
			all = append(all, d)
			labels = append(labels, kind)
			if means[kind] == nil {
				means[kind] = make([]float64, len(d))
			}
			for j, v := range d {
				means[kind][j] += v
			}
		}
	}
	count := map[string]float64{}
	for _, l := range labels {
		count[l]++
	}
	for k, m := range means {
		for j := range m {
			m[j] /= count[k]
		}
	}
	scale := make([]float64, len(all[0]))
	for i, d := range all {
		for j, v := range d {
			e := v - means[labels[i]][j]
			scale[j] += e * e / float64(len(all))
		}
	}
	for j := range scale {
		scale[j] = math.Sqrt(scale[j]) + 0.02
	}
	kindModel.means, kindModel.scale = means, scale
	kindModel.protos, kindModel.labels = all, labels
}

// classifyKind votes among the 7 training shapes nearest to the blob's
// (distances scaled by each feature's spread within a kind).
func classifyKind(blob []int) string {
	kindModel.once.Do(buildKindModel)
	d := shapeDescriptor(blob)
	type nb struct {
		dist  float64
		label string
	}
	var nbs []nb
	for i, p := range kindModel.protos {
		s := 0.0
		for j, v := range d {
			e := (v - p[j]) / kindModel.scale[j]
			s += e * e
		}
		nbs = append(nbs, nb{s, kindModel.labels[i]})
	}
	sort.Slice(nbs, func(i, j int) bool { return nbs[i].dist < nbs[j].dist })
	votes := map[string]float64{}
	for _, n := range nbs[:min(7, len(nbs))] {
		votes[n.label] += 1 / (1 + n.dist)
	}
	best, bestV := "unknown", 0.0
	for _, k := range world.Kinds { // fixed order: ties resolve the same way
		if votes[k] > bestV {
			best, bestV = k, votes[k]
		}
	}
	return best
}
