package treecopy_test

import (
	"fmt"

	"github.com/crewrun/crew/treecopy"
)

// ExampleFilter keeps the Go sources of a tree and the directories that
// lead to them, as rsync --include '*/' --include '*.go' --exclude '*'
// does; the first rule that matches decides.
func ExampleFilter() {
	var f treecopy.Filter
	f.Add("*/", true)        // every directory (a trailing "/" matches only those)
	f.Add("*.go", true)      // and Go files, at any depth
	f.Add("*", false)        // and nothing else
	f.Add("/vendor/", false) // never reached: "*/" matched first
	for _, p := range []struct {
		path string
		dir  bool
	}{{"main.go", false}, {"cmd", true}, {"cmd/tool/main.go", false}, {"README.md", false}, {"vendor", true}} {
		fmt.Println(p.path, !f.Excluded(p.path, p.dir))
	}
	// Output:
	// main.go true
	// cmd true
	// cmd/tool/main.go true
	// README.md false
	// vendor true
}
