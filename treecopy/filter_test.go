//go:build linux

package treecopy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/crewrun/crew/treecopy"
)

// TestFilterRules checks rsync's pattern rules on paths (live rsync is
// compared in internal/cli's TestCopyFiltersMatchRsync).
func TestFilterRules(t *testing.T) {
	for _, tc := range []struct {
		rules    []string // "+ " or "- " prefixed
		path     string
		dir      bool
		excluded bool
	}{
		{[]string{"- *.o"}, "a/b.o", false, true},
		{[]string{"- *.o"}, "a.o/b", false, false},
		{[]string{"- /a.o"}, "x/a.o", false, false},
		{[]string{"- /a.o"}, "a.o", false, true},
		{[]string{"- build/"}, "build", false, false},
		{[]string{"- build/"}, "src/build", true, true},
		{[]string{"- src/*"}, "src/x/y", false, false},
		{[]string{"- src/**"}, "src/x/y", false, true},
		{[]string{"- src/**"}, "a/src/x", false, true},
		{[]string{"- foo/bar"}, "a/foo/bar", false, true},
		{[]string{"- foo/bar"}, "afoo/bar", false, false},
		{[]string{"- dir/***"}, "dir", true, true},
		{[]string{"- dir/***"}, "dir/a/b", false, true},
		{[]string{"- ?.c"}, "ab.c", false, false},
		{[]string{"- [a-c]x"}, "bx", false, true},
		{[]string{"- [!a-c]x"}, "bx", false, false},
		{[]string{"- [[:upper:]]*"}, "Readme", false, true},
		{[]string{"+ *.go", "- *"}, "main.go", false, false},
		{[]string{"+ *.go", "- *"}, "main.c", false, true},
		{[]string{"- **/z*"}, "z", false, true},
		{[]string{"- a\\*b"}, "a*b", false, true},
		{[]string{"- a\\*b"}, "axb", false, false},
		{[]string{"- [abc"}, "a", false, false},
	} {
		var f treecopy.Filter
		for _, r := range tc.rules {
			if err := f.Add(r, false); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.Excluded(tc.path, tc.dir); got != tc.excluded {
			t.Errorf("%q on %q (dir %v): excluded %v, want %v", tc.rules, tc.path, tc.dir, got, tc.excluded)
		}
	}
}

// TestFilterBadRules checks the rules rsync refuses, and the line a file's
// bad rule is on.
func TestFilterBadRules(t *testing.T) {
	var f treecopy.Filter
	for _, bad := range []string{"- ", "+ ", "a\x00b"} {
		if err := f.Add(bad, false); !errors.Is(err, treecopy.ErrFilter) {
			t.Errorf("Add(%q) = %v, want ErrFilter", bad, err)
		}
	}
	err := f.AddFrom(strings.NewReader("# c\n*.o\n- \n"), false, "rules.txt")
	if !errors.Is(err, treecopy.ErrFilter) || !strings.Contains(err.Error(), "rules.txt line 3") {
		t.Errorf("AddFrom: %v, want the file and line 3 named", err)
	}
}

// FuzzFilter feeds arbitrary rules and paths to the parser and matcher:
// no panic, and a rule that parses decides consistently.
func FuzzFilter(f *testing.F) {
	for _, seed := range [][2]string{
		{"*.o", "a/b.o"}, {"/src/**", "src/a/b"}, {"dir/***", "dir"}, {"[[:alpha:]", "a"},
		{"[a-", "b"}, {"\\", "x"}, {"**/", "a/"}, {"+ *", "q"}, {"- [!]]*", "]x"}, {"a/**/b", "a/x/y/b"},
	} {
		f.Add(seed[0], seed[1], false)
	}
	f.Fuzz(func(t *testing.T, rule, path string, dir bool) {
		var flt treecopy.Filter
		if err := flt.Add(rule, false); err != nil {
			return
		}
		a := flt.Excluded(path, dir)
		if b := flt.Excluded(path, dir); a != b {
			t.Fatalf("rule %q on %q: %v then %v", rule, path, a, b)
		}
		var ff treecopy.Filter
		if err := ff.AddFrom(strings.NewReader(rule+"\n"+rule), true, "fuzz"); err == nil {
			ff.Excluded(path, dir)
		}
	})
}
