package run

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// GNU parallel reads sizes and counts with unit prefixes — K, M, G, T, P
// (and Ki, Mi ...) are powers of 1024, k, m, g, t, p powers of 1000 —
// and durations with s, m, h, d, in arithmetic it evaluates with Perl:
// --block 1M-12*2.024*2k, --timeout 1d3.5h16.6m4s. crew reads the same
// (+ - * / and parentheses).

var (
	binaryUnits = []struct{ pat, val string }{
		{"ki", "*1024"}, {"mi", "*1024*1024"}, {"gi", "*1024*1024*1024"}, {"ti", "*1024*1024*1024*1024"},
		{"pi", "*1024*1024*1024*1024*1024"}, {"ei", "*1024*1024*1024*1024*1024*1024"},
		{"zi", "*1024*1024*1024*1024*1024*1024*1024"}, {"yi", "*1024*1024*1024*1024*1024*1024*1024*1024"},
		{"xi", "*1024*1024*1024*1024*1024*1024*1024*1024*1024"},
	}
	upperUnits = "KMGTPEZYX"
	lowerUnits = "kmgtpezyx"
)

// ParseUnits evaluates a number with unit prefixes (GNU parallel's
// multiply_binary_prefix): 100k is 100000, 1M is 1048576.
func ParseUnits(s string) (float64, error) {
	e := s
	for _, u := range binaryUnits {
		e = regexp.MustCompile("(?i)"+u.pat).ReplaceAllLiteralString(e, u.val)
	}
	for i, c := range upperUnits {
		e = strings.ReplaceAll(e, string(c), strings.Repeat("*1024", i+1))
	}
	for i, c := range lowerUnits {
		e = strings.ReplaceAll(e, string(c), strings.Repeat("*1000", i+1))
	}
	v, err := evalArith(e)
	if err != nil {
		return 0, fmt.Errorf("%q: want a number, perhaps with a unit (k=1000, K=1024, M, G ...)", s)
	}
	return v, nil
}

// ParseTime evaluates a duration in seconds, perhaps with s, m, h, d
// (GNU parallel's multiply_time_units): 1m30s, 2.5h, 0.1.
func ParseTime(s string) (time.Duration, error) {
	e := s
	if strings.ContainsAny(e, "dhmsDHMS") {
		for _, u := range []struct{ c, v string }{{"s", "*1+"}, {"m", "*60+"}, {"h", "*3600+"}, {"d", "*86400+"}} {
			e = regexp.MustCompile("(?i)"+u.c).ReplaceAllLiteralString(e, u.v)
		}
		e = regexp.MustCompile(`\+(\D)`).ReplaceAllString(e, "$1")
	}
	v, err := evalArith(e + "-0")
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%q: want a time ≥ 0 in seconds, perhaps with s, m, h, d", s)
	}
	if v > float64(math.MaxInt64/time.Second) {
		return 0, fmt.Errorf("%q: at most %d seconds", s, math.MaxInt64/time.Second)
	}
	return time.Duration(v * float64(time.Second)), nil
}

// evalArith evaluates + - * / and parentheses over decimal numbers.
func evalArith(s string) (float64, error) {
	p := &arith{s: strings.ReplaceAll(s, " ", "")}
	v, err := p.sum()
	if err != nil {
		return 0, err
	}
	if p.i != len(p.s) {
		return 0, errors.New("unexpected " + p.s[p.i:])
	}
	return v, nil
}

type arith struct {
	s string
	i int
}

func (p *arith) sum() (float64, error) {
	v, err := p.product()
	for err == nil && p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
		op := p.s[p.i]
		p.i++
		var w float64
		if w, err = p.product(); op == '+' {
			v += w
		} else {
			v -= w
		}
	}
	return v, err
}

func (p *arith) product() (float64, error) {
	v, err := p.unary()
	for err == nil && p.i < len(p.s) && (p.s[p.i] == '*' || p.s[p.i] == '/') {
		op := p.s[p.i]
		p.i++
		var w float64
		if w, err = p.unary(); err != nil {
			break
		}
		if op == '*' {
			v *= w
		} else if w == 0 {
			return 0, errors.New("division by zero")
		} else {
			v /= w
		}
	}
	return v, err
}

func (p *arith) unary() (float64, error) {
	if p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
		neg := p.s[p.i] == '-'
		p.i++
		v, err := p.unary()
		if neg {
			v = -v
		}
		return v, err
	}
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		v, err := p.sum()
		if err != nil {
			return 0, err
		}
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return 0, errors.New("missing )")
		}
		p.i++
		return v, nil
	}
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.') {
		p.i++
	}
	if start == p.i {
		return 0, errors.New("want a number")
	}
	return strconv.ParseFloat(p.s[start:p.i], 64)
}
