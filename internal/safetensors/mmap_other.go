//go:build !unix

package safetensors

import "os"

// mapFile reads the whole file where memory mapping is not available.
func mapFile(path string) ([]byte, func() error, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return buf, func() error { return nil }, nil
}

// dropPages does nothing where the file is read into memory.
func dropPages([]byte, bool) {}
