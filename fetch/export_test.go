package fetch

import "os"

// AttrsSupported reports whether files in dir can hold the extended
// attribute Run keeps a complete file's validators in.
func AttrsSupported(dir string) bool {
	f, err := os.CreateTemp(dir, "attr")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return setAttr(f, []byte("{}")) == nil
}
