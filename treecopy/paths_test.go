//go:build linux

package treecopy

import "testing"

// parentPath cuts the last element off and never cleans what is left, so
// that the kernel, not text, decides where ".." after a symlink leads.
func TestParentPath(t *testing.T) {
	for _, tc := range []struct {
		p, parent string
		ok        bool
	}{
		{"a/lnk/../dst", "a/lnk/..", true},
		{"a/b/", "a", true},
		{"a//b", "a/", true},
		{"/x", "/", true},
		{"x", ".", true},
		{"..", ".", true},
		{"/", "", false},
		{"", "", false},
	} {
		if parent, ok := parentPath(tc.p); parent != tc.parent || ok != tc.ok {
			t.Errorf("parentPath(%q) = %q, %v; want %q, %v", tc.p, parent, ok, tc.parent, tc.ok)
		}
	}
}

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		TempPrefix + "4242-1":   true,
		TempPrefix + "1-150":    true,
		TempPrefix + "notes":    false,
		TempPrefix + "1":        false,
		TempPrefix + "1-":       false,
		TempPrefix + "-1":       false,
		TempPrefix + "1-2.part": false,
		"4242-1":                false,
	} {
		if got := isTempName([]byte(name)); got != want {
			t.Errorf("isTempName(%q) = %v, want %v", name, got, want)
		}
	}
}
