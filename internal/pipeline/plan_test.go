package pipeline

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	sd15 := ModelDefaults{Width: 512, Height: 512}
	turbo := ModelDefaults{Width: 512, Height: 512, Sampler: "euler"}
	xl := ModelDefaults{Width: 1024, Height: 1024, SizeConditioning: true}
	tests := []struct {
		name    string
		req     Request
		model   ModelDefaults
		want    func(r *Request) // the fields Plan must set, on top of req
		notes   []string         // substrings, in order
		wantErr string
	}{
		{"everything unset", Request{Steps: 20, CFGScale: 7.5}, sd15, func(r *Request) {
			r.Width, r.Height, r.Sampler, r.Schedule, r.ClipSkip, r.LongPrompts = 512, 512, "dpmpp_2m", "karras", 1, "truncate"
		}, nil, ""},
		{"given values kept", Request{Width: 64, Height: 48, Sampler: "euler", Schedule: "karras", Steps: 3, ClipSkip: 2, LongPrompts: "chunk", CFGScale: 5},
			sd15, func(r *Request) {}, []string{"64x48 is far from the model's native 512x512"}, ""},
		{"twice the native width", Request{Width: 1024, Height: 512, Sampler: "euler", Steps: 3, CFGScale: 5},
			sd15, func(r *Request) { r.Schedule, r.ClipSkip, r.LongPrompts = "default", 1, "truncate" }, []string{"1024x512 is far from"}, ""},
		{"near the native size", Request{Width: 768, Height: 384, Sampler: "euler", Steps: 3, CFGScale: 5},
			sd15, func(r *Request) { r.Schedule, r.ClipSkip, r.LongPrompts = "default", 1, "truncate" }, nil, ""},
		{"dpmpp_2m given: karras", Request{Sampler: "dpmpp_2m", Steps: 4, CFGScale: 7.5}, sd15, func(r *Request) {
			r.Width, r.Height, r.Schedule, r.ClipSkip, r.LongPrompts = 512, 512, "karras", 1, "truncate"
		}, nil, ""},
		{"own sampler", Request{Steps: 1}, turbo, func(r *Request) {
			r.Width, r.Height, r.Sampler, r.Schedule, r.ClipSkip, r.LongPrompts = 512, 512, "euler", "default", 1, "truncate"
		}, []string{"ships its own scheduler: using sampler euler"}, ""},
		{"a chosen schedule keeps the default sampler", Request{Schedule: "default", Steps: 1}, turbo, func(r *Request) {
			r.Width, r.Height, r.Sampler, r.ClipSkip, r.LongPrompts = 512, 512, "dpmpp_2m", 1, "truncate"
		}, nil, ""},
		{"a chosen sampler wins", Request{Sampler: "ddim", Steps: 1}, turbo, func(r *Request) {
			r.Width, r.Height, r.Schedule, r.ClipSkip, r.LongPrompts = 512, 512, "default", 1, "truncate"
		}, nil, ""},
		{"unused negative prompt", Request{NegativePrompt: "blurry", CFGScale: 1, Steps: 1}, turbo, func(r *Request) {
			r.Width, r.Height, r.Sampler, r.Schedule, r.ClipSkip, r.LongPrompts = 512, 512, "euler", "default", 1, "truncate"
		}, []string{"using sampler euler", "negative prompt is not used"}, ""},
		{"above 1024x1024: tiled decode", Request{Width: 1536, Height: 1024, Sampler: "euler", Steps: 3, CFGScale: 5},
			xl, func(r *Request) { r.Schedule, r.ClipSkip, r.LongPrompts, r.VAETiling = "default", 1, "truncate", "on" },
			[]string{"decoding 1536x1024 in tiles"}, ""},
		{"1024x1024 decodes whole", Request{Width: 1024, Height: 1024, Sampler: "euler", Steps: 3, CFGScale: 5, VAETiling: "auto"},
			xl, func(r *Request) { r.Schedule, r.ClipSkip, r.LongPrompts, r.VAETiling = "default", 1, "truncate", "" }, nil, ""},
		{"tiling off is kept", Request{Width: 2048, Height: 2048, Sampler: "euler", Steps: 3, CFGScale: 5, VAETiling: "off"},
			xl, func(r *Request) { r.Schedule, r.ClipSkip, r.LongPrompts = "default", 1, "truncate" }, []string{"2048x2048 is far from"}, ""},
		{"size conditioning without SDXL", Request{Sampler: "euler", Steps: 3, CFGScale: 5, OriginalWidth: 512, CropTop: 3},
			sd15, func(r *Request) {
				r.Width, r.Height, r.Schedule, r.ClipSkip, r.LongPrompts, r.OriginalWidth, r.CropTop = 512, 512, "default", 1, "truncate", 0, 0
			}, []string{"only SDXL models take size conditioning"}, ""},
		{"size conditioning with SDXL", Request{Sampler: "euler", Steps: 3, CFGScale: 5, OriginalWidth: 512, CropTop: 3},
			xl, func(r *Request) {
				r.Width, r.Height, r.Schedule, r.ClipSkip, r.LongPrompts = 1024, 1024, "default", 1, "truncate"
			}, nil, ""},
		{"bad tiling mode", Request{Sampler: "euler", Steps: 3, VAETiling: "maybe"}, sd15, nil, nil, "unknown VAE tiling mode"},
		{"invalid after planning", Request{Sampler: "ddim", Schedule: "karras", Steps: 1}, sd15, nil, nil, "no Karras sigmas"},
		{"bad native size", Request{Steps: 1}, ModelDefaults{Width: 500, Height: 512}, nil, nil, "multiples of 8"},
		{"steps are the caller's", Request{}, sd15, nil, nil, "steps must be between 1 and 1000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, notes, err := Plan(tc.req, tc.model)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.req
			tc.want(&want)
			if !samePlan(got, want) {
				t.Errorf("planned %+v\nwant    %+v", got, want)
			}
			if len(notes) != len(tc.notes) {
				t.Fatalf("notes %q, want %d", notes, len(tc.notes))
			}
			for i, n := range tc.notes {
				if !strings.Contains(notes[i], n) {
					t.Errorf("note %d %q lacks %q", i, notes[i], n)
				}
			}
		})
	}
}

// samePlan compares the fields Plan settles.
func samePlan(a, b Request) bool {
	return a.Width == b.Width && a.Height == b.Height && a.Sampler == b.Sampler && a.Schedule == b.Schedule &&
		a.Steps == b.Steps && a.ClipSkip == b.ClipSkip && a.LongPrompts == b.LongPrompts && a.CFGScale == b.CFGScale
}

func TestPromptWarning(t *testing.T) {
	long := strings.Repeat("red ", 80)
	emphasis := strings.Repeat("(red:1.3) ", 30)
	for _, tc := range []struct {
		text, mode string
		want       []string // substrings; none: no warning
	}{
		{"a red fox", "truncate", nil},
		{"", "truncate", nil},
		{long, "chunk", nil},
		{long, "truncate", []string{"prompt is 80 tokens, over the limit of 75", `dropped: "red red red red red"`}},
		{emphasis, "truncate", nil}, // 30 tokens once the syntax is parsed
	} {
		w := PromptWarning("prompt", tc.text, tc.mode)
		if (w == "") != (tc.want == nil) || !containsAll(w, tc.want) {
			t.Errorf("PromptWarning(%.20q, %s) = %q, want %q", tc.text, tc.mode, w, tc.want)
		}
	}
}

func containsAll(s string, subs []string) bool {
	return !slices.ContainsFunc(subs, func(sub string) bool { return !strings.Contains(s, sub) })
}

func TestResolveSampler(t *testing.T) {
	for _, tc := range []struct{ in, sampler, schedule string }{
		{"dpmpp_2m", "dpmpp_2m", ""}, {"DPM++ 2M Karras", "dpmpp_2m", "karras"}, {"DPM++ 2M", "dpmpp_2m", ""},
		{"dpm++2m", "dpmpp_2m", ""}, {"Euler a", "euler_a", ""}, {"Euler", "euler", ""}, {"PLMS", "pndm", ""},
		{"LMS Karras", "lms", "karras"}, {"DDIM", "ddim", ""}, {" euler_a ", "euler_a", ""}, {"heun", "heun", ""},
	} {
		s, sch := ResolveSampler(tc.in)
		if s != tc.sampler || sch != tc.schedule {
			t.Errorf("ResolveSampler(%q) = %q, %q; want %q, %q", tc.in, s, sch, tc.sampler, tc.schedule)
		}
	}
}

func TestEstimateMemory(t *testing.T) {
	// The measurements the formula was fitted to, within 5%.
	for _, tc := range []struct {
		side int
		peak float64 // GB, imggen bench on the random SD 1.5 f16 checkpoint
	}{{256, 2.043}, {512, 2.279}} {
		got := float64(EstimateMemory(2132626038, tc.side, tc.side)) / 1e9
		if math.Abs(got-tc.peak) > 0.05*tc.peak {
			t.Errorf("%d px: %.3f GB, measured %.3f", tc.side, got, tc.peak)
		}
	}
}
