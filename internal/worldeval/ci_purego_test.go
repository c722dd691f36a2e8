//go:build purego

package worldeval

// judgeCIImages is the number of prompts of TestBuiltinModelJudge: fewer
// with the portable kernels, to stay within a minute on 2 cores.
const judgeCIImages = 8
