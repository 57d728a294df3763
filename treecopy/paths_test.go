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
