package gemm

import (
	"os"
	"path/filepath"
	"strings"
)

// l1DataBytes reads the size of the first CPU's level-1 data cache from
// sysfs (0 if it cannot be read).
func l1DataBytes() int {
	dirs, _ := filepath.Glob("/sys/devices/system/cpu/cpu0/cache/index*")
	for _, d := range dirs {
		level, _ := os.ReadFile(filepath.Join(d, "level"))
		typ, _ := os.ReadFile(filepath.Join(d, "type"))
		if strings.TrimSpace(string(level)) != "1" || strings.TrimSpace(string(typ)) != "Data" {
			continue
		}
		size, _ := os.ReadFile(filepath.Join(d, "size"))
		return parseCacheSize(strings.TrimSpace(string(size)))
	}
	return 0
}
