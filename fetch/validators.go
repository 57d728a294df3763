package fetch

import (
	"encoding/json"
	"os"
)

// A complete file's validators (its ETag and Last-Modified) are kept on
// the file itself, in an extended attribute, so that Continue can ask the
// server whether it changed without a record per file anywhere: the state
// stays as small as the downloads in progress, however many files a
// directory holds. Where the file system or the OS has no extended
// attributes (Windows), complete files are checked by size.

// validatorsAttr names the extended attribute (with the "user." namespace
// on Linux, in the user namespace on FreeBSD).
const validatorsAttr = "crew-fetch"

type validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// writeValidators stores v on the open file f; a file system without
// extended attributes is not an error (the file is then checked by size).
func writeValidators(f *os.File, v validators) {
	if v.ETag == "" && v.LastModified == "" {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		_ = setAttr(f, b)
	}
}

// readValidators returns what writeValidators stored on f, if anything.
func readValidators(f *os.File) (validators, bool) {
	var v validators
	b, ok := getAttr(f)
	if !ok || json.Unmarshal(b, &v) != nil {
		return validators{}, false
	}
	return v, v.ETag != "" || v.LastModified != ""
}
