package run

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
)

// --round-robin and --tee stream standard input into jobs that run for
// as long as it lasts: round-robin starts at most Jobs jobs and gives
// each chunk to whichever is ready to read (with -k, to each in turn, so
// a rerun gives every job the same chunks); --tee gives all of it to
// every job, the jobs made from the ::: values, all running at once.

var errStreamEnded = errors.New("crew run: the run ended")

// streams holds the pipes of streamed jobs and the goroutine feeding them.
type streams struct {
	mu      sync.Mutex
	readers []*io.PipeReader
	feeding sync.WaitGroup
}

func (s *streams) newPipe() (*io.PipeReader, *io.PipeWriter) {
	pr, pw := io.Pipe()
	s.mu.Lock()
	s.readers = append(s.readers, pr)
	s.mu.Unlock()
	return pr, pw
}

// stop unblocks every feeder (a job that never started reads nothing)
// and waits for them.
func (s *streams) stop() {
	s.mu.Lock()
	for _, pr := range s.readers {
		pr.CloseWithError(errStreamEnded)
	}
	s.mu.Unlock()
	s.feeding.Wait()
}

// feed writes first, then what comes on ch, into pw; after a failed write
// (the job has ended) the rest is read and dropped.
func feed(pw *io.PipeWriter, first []byte, ch <-chan []byte) {
	_, err := pw.Write(first)
	for data := range ch {
		if err == nil {
			_, err = pw.Write(data)
		}
	}
	pw.Close()
}

// roundRobinJobs makes up to Jobs jobs, one for each of the first chunks,
// and feeds them the chunks that follow.
func (b *blockSplitter) roundRobinJobs() iter.Seq2[*job, error] {
	return func(yield func(*job, error) bool) {
		n := max(b.r.maxJobs, 1)
		newJobs := make(chan *job, n)
		s := b.r.streamsFor()
		s.feeding.Go(func() { b.distribute(n, newJobs, s) })
		for j := range newJobs {
			if !yield(j, nil) {
				return
			}
		}
	}
}

func (b *blockSplitter) distribute(n int, newJobs chan<- *job, s *streams) {
	shared := make(chan []byte)
	var own []chan []byte
	created, sent := 0, 0
	defer func() {
		if created < n {
			close(newJobs)
		}
		close(shared)
		for _, ch := range own {
			close(ch)
		}
	}()
	for c, err := range b.chunks() {
		if err != nil {
			b.r.fatal(err)
			return
		}
		data := c.data
		if b.r.o.RemoveRecSep {
			data = b.removeRecSep(data)
		}
		if created < n {
			created++
			pr, pw := s.newPipe()
			ch := shared
			if b.r.o.KeepOrder {
				ch = make(chan []byte)
				own = append(own, ch)
			}
			first := append(append([]byte(nil), c.header...), data...)
			s.feeding.Go(func() { feed(pw, first, ch) })
			newJobs <- &job{seq: created, stdinR: pr, args: []string{""}, records: [][]string{{""}}}
			if created == n {
				close(newJobs)
			}
			continue
		}
		target := shared
		if b.r.o.KeepOrder {
			target = own[sent%n]
		}
		sent++
		target <- data
	}
}

// teeJobs makes the jobs of the ::: values and gives each all of
// standard input.
func (r *runner) teeJobs() iter.Seq2[*job, error] {
	return func(yield func(*job, error) bool) {
		if len(r.readers) == 0 {
			return // no ::: values: no jobs, as in GNU parallel
		}
		var jobs []*job
		for j, err := range r.argJobs() {
			if err != nil {
				yield(nil, err)
				return
			}
			jobs = append(jobs, j)
		}
		if len(jobs) > r.o.Jobs {
			yield(nil, fmt.Errorf("--tee runs all %d jobs at once: it needs -j %d or more (-j 0 is many)", len(jobs), len(jobs)))
			return
		}
		s := r.streamsFor()
		var writers []*io.PipeWriter
		for _, j := range jobs {
			pr, pw := s.newPipe()
			j.stdinR = pr
			writers = append(writers, pw)
		}
		s.feeding.Go(func() { r.tee(writers) })
		for _, j := range jobs {
			if !yield(j, nil) {
				return
			}
		}
	}
}

// tee copies standard input to every writer whose job still reads.
func (r *runner) tee(writers []*io.PipeWriter) {
	buf := make([]byte, 128<<10)
	live := len(writers)
	dead := make([]bool, len(writers))
	for live > 0 {
		n, err := r.o.Stdin.Read(buf)
		for i, w := range writers {
			if n > 0 && !dead[i] {
				if _, werr := w.Write(buf[:n]); werr != nil {
					dead[i] = true
					live--
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				r.fatal(fmt.Errorf("--tee: reading standard input: %w", err))
			}
			break
		}
	}
	for _, w := range writers {
		w.Close()
	}
}
