package proc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// procWorker is the pool's side of one worker process.
type procWorker struct {
	id         int
	cmd        *exec.Cmd
	toWorker   *os.File
	fromWorker *os.File   // read through from; closed when the worker is gone
	wmu        sync.Mutex // guards out: chunks and cancellations
	out        *bufio.Writer
	from       *bufio.Reader
	inflight   []*job    // sent, answers pending, in order
	pending    int       // elements in inflight not yet answered
	head       time.Time // when the element being answered started, as far as the pool knows
	avg        time.Duration
	ran        int
	retiring   bool // no more work: MaxTasksPerWorker reached
	running    bool // the worker said it is running the head element (a running frame)
	dead       bool
	timedOut   bool
	exited     chan struct{}
}

// startWorker starts a worker process and waits for its hello (within
// handshakeTimeout) and for its ready, once its initializers are built.
func (p *Pool) startWorker() (*procWorker, error) {
	p.mu.Lock()
	p.nextWorker++
	id := p.nextWorker
	p.mu.Unlock()
	w, err := p.spawn(id)
	if err != nil {
		return nil, err
	}
	var silent atomic.Bool // the worker sent no hello in time: it was killed
	timer := time.AfterFunc(handshakeTimeout, func() {
		silent.Store(true)
		w.kill()
	})
	fail := func(err error) (*procWorker, error) {
		timer.Stop()
		werr := w.reap()
		if silent.Load() {
			err = fmt.Errorf("it sent nothing in %v: does the program call proc.ServeIfWorker() first in main (and in TestMain)? (%v)", handshakeTimeout, werr)
		} else if werr != nil {
			err = fmt.Errorf("%w (%v)", err, werr)
		}
		return nil, fmt.Errorf("proc: worker %d did not start: %w", id, err)
	}
	hello := &message{Type: msgHello, Version: protocolVersion, Inits: p.cfg.Inits,
		TimeoutMS: ceilMS(p.cfg.Timeout), Retries: p.cfg.Retries, BackoffMS: ceilMS(p.cfg.RetryBackoff)}
	if err := writeFrame(w.out, hello); err != nil {
		return fail(err)
	}
	if err := w.out.Flush(); err != nil {
		return fail(err)
	}
	var m message
	if err := readFrame(w.from, &m); err != nil {
		return fail(err)
	}
	switch {
	case m.Type == msgInitFail:
		return fail(m.Error.Err())
	case m.Type != msgHello:
		return fail(fmt.Errorf("its first frame is %q, not hello: it speaks protocol version 1 or none; this pool speaks version %d (docs/protocol.md)", m.Type, protocolVersion))
	case m.Version != protocolVersion:
		return fail(fmt.Errorf("it speaks protocol version %d; this pool speaks version %d (docs/protocol.md)", m.Version, protocolVersion))
	}
	timer.Stop() // the initializers may take as long as they need
	if err := readFrame(w.from, &m); err != nil {
		return fail(err)
	}
	switch m.Type {
	case msgReady:
		return w, nil
	case msgInitFail:
		return fail(m.Error.Err())
	default:
		return fail(fmt.Errorf("unexpected %q message", m.Type))
	}
}

// ceilMS returns d in milliseconds, at least 1 if d is positive.
func ceilMS(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, d.Milliseconds())
}

// spawn starts worker process id with the protocol pipes as its
// descriptors 3 and 4.
func (p *Pool) spawn(id int) (*procWorker, error) {
	childIn, toWorker, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("proc: %w", err)
	}
	fromWorker, childOut, err := os.Pipe()
	if err != nil {
		childIn.Close()
		toWorker.Close()
		return nil, fmt.Errorf("proc: %w", err)
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = p.env
	cmd.ExtraFiles = []*os.File{childIn, childOut}
	cmd.Stdout = &prefixWriter{mu: &p.stderrMu, w: p.stderr, prefix: fmt.Sprintf("[worker %d] ", id)}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = outputDelay
	cmd.SysProcAttr = sysProcAttr()
	err = startCommand(cmd)
	childIn.Close()
	childOut.Close()
	if err != nil {
		toWorker.Close()
		fromWorker.Close()
		return nil, fmt.Errorf("proc: start worker: %w", err)
	}
	return &procWorker{
		id: id, cmd: cmd, toWorker: toWorker, fromWorker: fromWorker,
		out:    bufio.NewWriterSize(toWorker, 64<<10),
		from:   bufio.NewReaderSize(fromWorker, 64<<10),
		exited: make(chan struct{}),
	}, nil
}

// outputDelay bounds how long a worker's end waits for its output pipe to
// close after the worker exited. Programs a task started inherit the
// worker's standard error, and one still running keeps the pipe open: the
// worker's end — and a task failing because its worker timed out — would
// otherwise wait for that program to exit. What it writes later is lost.
const outputDelay = time.Second

// workerEnv returns the environment of a pool of n workers started from
// a process with procs processors: env with the worker marker and, unless
// env sets GOMAXPROCS, the workers' share of the processors in envProcs,
// which the worker applies to its own runtime only (a GOMAXPROCS variable
// would reach every program a task starts).
func workerEnv(env []string, procs, n int) []string {
	env = append(slices.Clip(env), envWorker+"=1")
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return env
		}
	}
	return append(env, envProcs+"="+strconv.Itoa(max(1, procs/max(1, n))))
}

// launch adds a started worker to the pool and runs its goroutines.
func (p *Pool) launch(w *procWorker) {
	p.workers = append(p.workers, w)
	p.wg.Add(2)
	go p.feed(w)
	go p.read(w)
}

func (w *procWorker) send(m *message) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if writeFrame(w.out, m) == nil {
		w.out.Flush()
	}
}

func (w *procWorker) kill() {
	if w.cmd.Process != nil {
		w.cmd.Process.Kill()
	}
}

// reap kills w if it still runs, closes the pool's ends of its pipes and
// waits for it, returning how it ended. Nothing may read its answers any
// more: the pipe is closed under the reader, not drained. Without the
// wait the process stays a zombie; without the close its descriptor stays
// open until a garbage collection finalizes the file.
func (w *procWorker) reap() error {
	w.kill()
	w.toWorker.Close()
	w.fromWorker.Close()
	return w.cmd.Wait()
}

// exitStatus describes how w ended, for an error.
func exitStatus(waitErr, readErr error) string {
	switch {
	case waitErr != nil:
		return waitErr.Error()
	case readErr != nil && !errors.Is(readErr, io.EOF):
		return readErr.Error()
	}
	return "exited"
}

// prefixWriter writes each line with a prefix. The workers' writers share
// mu, the pool's: the writer given to Stderr is called by one at a time, as
// os/exec promises for one command's Stdout and Stderr.
type prefixWriter struct {
	mu      *sync.Mutex
	w       io.Writer
	prefix  string
	midLine bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	var out []byte
	for _, c := range b {
		if !pw.midLine {
			out = append(out, pw.prefix...)
			pw.midLine = true
		}
		out = append(out, c)
		if c == '\n' {
			pw.midLine = false
		}
	}
	if _, err := pw.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
