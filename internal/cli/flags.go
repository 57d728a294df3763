package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseSize accepts a byte count with an optional K, M or G (powers of 1024).
func parseSize(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	orig, mult := v, int64(1)
	switch strings.ToUpper(v[len(v)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size like 10M, got %q", v)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large (at most %d bytes)", orig, int64(math.MaxInt64))
	}
	return n * mult, nil
}
