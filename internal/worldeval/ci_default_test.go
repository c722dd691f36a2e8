//go:build !purego

package worldeval

// judgeCIImages is the number of prompts of TestBuiltinModelJudge.
const judgeCIImages = 12

// firstExampleSeeds is how many seeds of the README's first example
// TestBuiltinModelJudge checks.
const firstExampleSeeds = 4

// vaeStyleImages is the number of pictures per style of
// TestBuiltinVAEKeepsStyles.
const vaeStyleImages = 8
