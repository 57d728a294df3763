package cli

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crewrun/crew/run"
)

// As GNU parallel does, crew run reads options from /etc/parallel/config
// and the config file of GNU parallel's directory (~/.parallel/config),
// or instead from the profiles named with --profile/-J, then from
// $PARALLEL; --plain skips them all. Words in them that are not options
// go in front of the command (a profile of "-j-1 nice" runs every job
// with nice).

// parallelConfigDirs are GNU parallel's config directories that exist:
// $PARALLEL_HOME, $XDG_CONFIG_HOME/parallel, each $XDG_CONFIG_DIRS/parallel,
// ~/.parallel.
func parallelConfigDirs() []string {
	var cands []string
	if h := os.Getenv("PARALLEL_HOME"); h != "" {
		cands = append(cands, h)
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		cands = append(cands, filepath.Join(x, "parallel"))
	}
	for _, d := range filepath.SplitList(os.Getenv("XDG_CONFIG_DIRS")) {
		if d != "" {
			cands = append(cands, filepath.Join(d, "parallel"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, ".parallel"))
	}
	var dirs []string
	for _, d := range cands {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// parallelConfigDir is the first config directory, or ~/.parallel.
func parallelConfigDir() string {
	if d := parallelConfigDirs(); len(d) > 0 {
		return d[0]
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".parallel")
}

// profileScan finds --profile/-J and --plain among the options at the
// front of args, as GNU parallel's first pass does.
func profileScan(args []string) (profiles []string, plain bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return
		case a == "--plain":
			plain = true
		case a == "--profile" || a == "-J":
			if i+1 < len(args) {
				profiles = append(profiles, args[i+1])
				i++
			}
		case strings.HasPrefix(a, "--profile="):
			profiles = append(profiles, strings.TrimPrefix(a, "--profile="))
		case strings.HasPrefix(a, "-J"):
			profiles = append(profiles, a[2:])
		case !strings.HasPrefix(a, "-") || a == "-":
			return
		case strings.HasPrefix(a, "--"):
			if o, err := lookupLong(strings.SplitN(a[2:], "=", 2)[0]); err == nil && o.kind == optValue && !strings.Contains(a, "=") {
				i++
			}
		default: // a bundle of short options: its last may take the next word
			if o, ok := runShort[a[len(a)-1]]; ok && o.kind == optValue && len(a) == 2 {
				i++
			}
		}
	}
	return
}

// optionSources are the words crew run reads options from, in order.
type optionSources struct {
	groups [][]string // profile words, $PARALLEL words, the command line
}

func readOptionSources(args []string) (optionSources, error) {
	profiles, plain := profileScan(args)
	var groups [][]string
	if !plain {
		var files []string
		if len(profiles) > 0 {
			for _, p := range profiles {
				if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") {
					files = append(files, p)
					continue
				}
				for _, d := range parallelConfigDirs() {
					files = append(files, filepath.Join(d, p))
				}
			}
		} else {
			files = append(files, "/etc/parallel/config")
			for _, d := range parallelConfigDirs() {
				files = append(files, filepath.Join(d, "config"))
			}
			if home, err := os.UserHomeDir(); err == nil {
				files = append(files, filepath.Join(home, ".parallelrc"))
			}
		}
		var words []string
		for _, name := range files {
			w, err := profileWords(name)
			if err != nil {
				return optionSources{}, err
			}
			words = append(words, w...)
		}
		groups = append(groups, words)
		env, err := shellWords(os.Getenv("PARALLEL"))
		if err != nil {
			return optionSources{}, fmt.Errorf("$PARALLEL: %w", err)
		}
		groups = append(groups, env)
	}
	return optionSources{groups: append(groups, args)}, nil
}

// profileWords reads a profile: lines starting with # are comments, each
// other line split into words as a shell would.
func profileWords(name string) ([]string, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return nil, nil // unreadable profiles are passed over, as GNU parallel does
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var words []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			continue
		}
		w, err := shellWords(line)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		words = append(words, w...)
	}
	return words, s.Err()
}

// shellWords splits a line into words as Text::ParseWords::shellwords
// does: spaces separate, '...' and "..." quote, \ escapes.
func shellWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			in = true
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unmatched %c in %q", c, line)
			}
			part := line[i+1 : i+1+j]
			if c == '"' {
				part = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, "\\`", "`").Replace(part)
			}
			w.WriteString(part)
			i += j + 1
			in = true
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

// parse reads the options of each group into f: the words that are not
// options, the profiles' and $PARALLEL's first, make the command.
func (src optionSources) parse(f *runFlags) ([]string, error) {
	var rest []string
	for _, g := range src.groups {
		r, err := parseRunArgs(f, g)
		if err != nil {
			return nil, err
		}
		rest = append(rest, r...)
	}
	return rest, nil
}

// shebangArgs turns a --shebang invocation (#!/usr/bin/env -S crew run
// --shebang OPTIONS COMMAND in a script of arguments) into a command line
// reading the script, its first line skipped.
func shebangArgs(args []string) []string {
	first := strings.TrimPrefix(args[0], "--shebang")
	first = strings.TrimPrefix(first, "--hashbang")
	script := args[len(args)-1]
	words, _ := shellWords(first)
	out := []string{"--skip-first-line", "-a", script}
	out = append(out, words...)
	return append(out, args[1:len(args)-1]...)
}

// parseDuration reads a time as GNU parallel does (seconds; s m h d).
func parseDuration(s string) (time.Duration, error) {
	d, err := run.ParseTime(s)
	if err != nil {
		return 0, errors.New("want a time in seconds, perhaps with s, m, h, d (1m30s)")
	}
	return d, nil
}

// unitNumber reads a count or size with GNU parallel's unit prefixes.
func unitNumber(s string) (int64, error) {
	v, err := run.ParseUnits(s)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxInt64/2 {
		return 0, errors.New("out of range")
	}
	return int64(v), nil
}

// parseLoad reads --load as -j: N, N%, +N, -N (of the CPUs), at least 0.01.
func parseLoad(s string, cpus int) (float64, error) {
	var v float64
	switch {
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			return 0, errors.New("want N, N%, +N or -N")
		}
		v = float64(cpus) * p / 100
	case strings.HasPrefix(s, "+"), strings.HasPrefix(s, "-"):
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, errors.New("want N, N%, +N or -N")
		}
		v = float64(cpus + n)
	default:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errors.New("want N, N%, +N or -N")
		}
		v = f
	}
	return max(v, 0.01), nil
}

// unquotePrintfCLI reads -d's escapes.
func unquotePrintfCLI(s string) string { return run.UnquotePrintf(s) }
