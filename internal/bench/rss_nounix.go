//go:build !unix

package bench

// memory is unknown on this system.
func memory() (rss, peak int64) { return 0, 0 }
