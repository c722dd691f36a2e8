//go:build !purego

package worldeval

// judgeCIImages is the number of prompts of TestBuiltinModelJudge.
const judgeCIImages = 12
