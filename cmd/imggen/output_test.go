package main

import (
	"strings"
	"testing"
)

func TestOutputPattern(t *testing.T) {
	tests := []struct {
		spec  string
		total int
		want  []string // paths of images 1..len(want)
	}{
		{"out.png", 1, []string{"out.png"}},
		{"out.png", 3, []string{"out-0001.png", "out-0002.png", "out-0003.png"}},
		{"dir/a.b.PNG", 2, []string{"dir/a.b-0001.PNG", "dir/a.b-0002.PNG"}},
		{"out/%04d.png", 2, []string{"out/0001.png", "out/0002.png"}},
		{"out/%04d.png", 1, []string{"out/0001.png"}},
		{"img%d.png", 12, []string{"img1.png", "img2.png"}},
		{"%3d.png", 1, []string{"  1.png"}},
		{"100%%-%02d.png", 2, []string{"100%-01.png", "100%-02.png"}},
		{"100%%.png", 2, []string{"100%-0001.png", "100%-0002.png"}},
		{"%05d/x.png", 1, []string{"00001/x.png"}},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			p, err := parseOutput(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.want {
				if got := p.path(i+1, tc.total); got != want {
					t.Errorf("path(%d, %d) = %q, want %q", i+1, tc.total, got, want)
				}
			}
		})
	}
}

func TestOutputPatternErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"out.jpg", "must end in .png"},
		{"out", "must end in .png"},
		{"out.%d", "must end in .png"},
		{"a%s.png", "only an integer verb"},
		{"a%.png", "only an integer verb"},
		{"a%", "only an integer verb"},
		{"%d-%d.png", "more than one"},
		{"out/", "names a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := parseOutput(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
