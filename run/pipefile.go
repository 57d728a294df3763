package run

import (
	"fmt"
	"os"
)

// stdinFile gives a --cat job its block in a file, and a --fifo job a
// named pipe the block is written into; {} names it ($PARALLEL_TMP). The
// function returned removes it once the job has ended.
func (r *runner) stdinFile(j *job) (func(), error) {
	if !r.o.Cat && !r.o.Fifo {
		return func() {}, nil
	}
	if r.o.Cat {
		f, err := createTemp(r.tmpDir(), "")
		if err != nil {
			return nil, fmt.Errorf("--cat: %w", err)
		}
		_, err = f.Write(j.stdin)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return nil, fmt.Errorf("--cat: %w", err)
		}
		j.tmpFile = f.Name()
		return func() { os.Remove(j.tmpFile) }, nil
	}
	return r.fifo(j)
}
