package treecopy

import "bytes"

// isTempName reports whether name is one tempName makes: TempPrefix, a
// process id, "-" and a sequence number. Only such names are removed as a
// killed run's leftovers, so that source entries which merely start with
// TempPrefix are copied like any other.
func isTempName(name []byte) bool {
	rest, ok := bytes.CutPrefix(name, []byte(TempPrefix))
	if !ok {
		return false
	}
	pid, seq, ok := bytes.Cut(rest, []byte("-"))
	return ok && allDigits(pid) && allDigits(seq)
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
