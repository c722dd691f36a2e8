//go:build purego

package worldeval

// judgeCIImages is the number of prompts of TestBuiltinModelJudge: fewer
// with the portable kernels, to stay within a minute on 2 cores.
const judgeCIImages = 8

// firstExampleSeeds is how many seeds of the README's first example
// TestBuiltinModelJudge checks.
const firstExampleSeeds = 2

// vaeStyleImages is the number of pictures per style of
// TestBuiltinVAEKeepsStyles.
const vaeStyleImages = 4
