package proc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/crewrun/crew/executor"
)

// The wire protocol between a pool and its workers (docs/protocol.md):
// frames of a 4-byte big-endian length followed by that many bytes of one
// JSON object, in both directions.

// protocolVersion is the version of docs/protocol.md this package speaks;
// pool and worker exchange it in their hello frames and refuse another.
const protocolVersion = 2

// maxFrame bounds a frame so that a corrupt length cannot make a reader
// allocate gigabytes.
const maxFrame = 64 << 20

// Message types.
const (
	msgHello    = "hello"      // both ways, first: the protocol version; pool → worker also its options
	msgReady    = "ready"      // worker → pool: initializers built
	msgInitFail = "init_error" // worker → pool: an initializer failed, or this is no worker
	msgChunk    = "chunk"      // pool → worker: one task over an array of arguments
	msgCancel   = "cancel"     // pool → worker: cancel the chunk with ID
	msgResult   = "result"     // worker → pool: a chunk's next element's value or error
	msgValues   = "values"     // worker → pool: the values of a chunk's next elements
	msgRunning  = "running"    // worker → pool: the chunk's next element is running
	msgRetry    = "retry"      // worker → pool: the next element failed, attempt Attempt follows after DelayMS
)

type message struct {
	Type      string                `json:"type"`
	Version   int                   `json:"version,omitempty"`
	Inits     []string              `json:"inits,omitempty"`
	TimeoutMS int64                 `json:"timeout_ms,omitempty"`
	Retries   int                   `json:"retries,omitempty"`
	BackoffMS int64                 `json:"backoff_ms,omitempty"`
	PID       int                   `json:"pid,omitempty"`
	ID        uint64                `json:"id,omitempty"`
	Task      string                `json:"task,omitempty"`
	Attempt   int                   `json:"attempt,omitempty"`
	DelayMS   int64                 `json:"delay_ms,omitempty"`
	Args      json.RawMessage       `json:"args,omitempty"`
	Value     json.RawMessage       `json:"value,omitempty"`
	Values    json.RawMessage       `json:"values,omitempty"`
	Error     *executor.RemoteError `json:"error,omitempty"`
}

var errFrameTooBig = errors.New("proc: frame too large")

// frameTooBig is the error of an element whose argument alone, n bytes
// of JSON, makes a frame larger than maxFrame.
func frameTooBig(n int) error {
	return executor.Permanent(fmt.Errorf("%w: the argument is %d bytes of JSON; a frame holds at most %d", errFrameTooBig, n, maxFrame))
}

func writeFrame(w *bufio.Writer, m *message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeRaw(w, b)
}

func writeRaw(w *bufio.Writer, b []byte) error {
	if len(b) > maxFrame {
		return fmt.Errorf("%w: %d bytes", errFrameTooBig, len(b))
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readFrame(r *bufio.Reader, m *message) error {
	_, err := readFrameInto(r, nil, m)
	return err
}

// readFrameInto reads a frame into buf (grown as needed) and decodes it
// into m, which may alias buf: m is valid until buf is reused.
func readFrameInto(r *bufio.Reader, buf []byte, m *message) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return buf, fmt.Errorf("%w: %d bytes", errFrameTooBig, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	b := buf[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	*m = message{}
	if parseValueResult(b, m) || parseValues(b, m) || parseChunk(b, m) {
		return buf, nil
	}
	if err := json.Unmarshal(b, m); err != nil {
		return buf, fmt.Errorf("proc: bad frame: %w", err)
	}
	return buf, nil
}

// resultPrefix starts every successful result a Go worker writes
// (appendValueResult); parseValueResult reads those without reflection and
// leaves any other shape to encoding/json.
const resultPrefix = `{"type":"result","id":`

func parseValueResult(b []byte, m *message) bool {
	if !bytes.HasPrefix(b, []byte(resultPrefix)) || len(b) < len(resultPrefix)+2 || b[len(b)-1] != '}' {
		return false
	}
	rest := b[len(resultPrefix):]
	var id uint64
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		id = id*10 + uint64(rest[i]-'0')
	}
	const valueKey = `,"value":`
	if i == 0 || i > 19 || !bytes.HasPrefix(rest[i:], []byte(valueKey)) {
		return false
	}
	value := rest[i+len(valueKey) : len(rest)-1]
	if !json.Valid(value) {
		return false
	}
	m.Type, m.ID, m.Value = msgResult, id, value
	return true
}

// appendValueResult encodes a successful result the way parseValueResult
// expects it; value must be valid JSON.
func appendValueResult(buf []byte, id uint64, value []byte) []byte {
	buf = append(buf, resultPrefix...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, `,"value":`...)
	buf = append(buf, value...)
	return append(buf, '}')
}

// appendRunning encodes a running frame for chunk id.
func appendRunning(buf []byte, id uint64) []byte {
	buf = append(buf, `{"type":"running","id":`...)
	buf = strconv.AppendUint(buf, id, 10)
	return append(buf, '}')
}

// valuesPrefix starts every values frame a Go worker writes
// (appendValues); parseValues reads those without reflection. The array
// itself is checked when the pool decodes it.
const valuesPrefix = `{"type":"values","id":`

func parseValues(b []byte, m *message) bool {
	id, rest, ok := parseID(b, valuesPrefix)
	const key = `,"values":[`
	if !ok || !bytes.HasPrefix(rest, []byte(key)) || len(rest) < len(key)+2 || rest[len(rest)-2] != ']' {
		return false
	}
	m.Type, m.ID, m.Values = msgValues, id, rest[len(key)-1:len(rest)-1]
	return true
}

// appendValues encodes the values of a chunk's next elements; values must
// be a JSON array.
func appendValues(buf []byte, id uint64, values []byte) []byte {
	buf = append(buf, valuesPrefix...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, `,"values":`...)
	buf = append(buf, values...)
	return append(buf, '}')
}

// chunkPrefix starts every chunk frame the pool writes (appendChunk);
// parseChunk reads those without reflection when the task name needs no
// escaping. The arguments are checked when the worker decodes them.
const chunkPrefix = `{"type":"chunk","id":`

func parseChunk(b []byte, m *message) bool {
	id, rest, ok := parseID(b, chunkPrefix)
	const taskKey, argsKey = `,"task":"`, `","args":[`
	if !ok || !bytes.HasPrefix(rest, []byte(taskKey)) {
		return false
	}
	rest = rest[len(taskKey):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 || !bytes.HasPrefix(rest[end:], []byte(argsKey)) {
		return false
	}
	task := rest[:end]
	args := rest[end+len(argsKey)-1:]
	if len(args) < 3 || args[len(args)-2] != ']' {
		return false
	}
	m.Type, m.ID, m.Task, m.Args = msgChunk, id, string(task), args[:len(args)-1]
	return true
}

// appendChunk encodes a chunk frame; args must be a JSON array. attempt
// is the attempt number of its first element (1 unless it ran before).
func appendChunk(buf []byte, id uint64, task string, attempt int, args []byte) []byte {
	buf = append(buf, chunkPrefix...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, `,"task":`...)
	buf = strconv.AppendQuote(buf, task)
	if attempt > 1 {
		buf = append(buf, `,"attempt":`...)
		buf = strconv.AppendInt(buf, int64(attempt), 10)
	}
	buf = append(buf, `,"args":`...)
	buf = append(buf, args...)
	return append(buf, '}')
}

// parseID reads the decimal id after prefix at the start of b, and
// returns what follows it and the frame's closing brace.
func parseID(b []byte, prefix string) (id uint64, rest []byte, ok bool) {
	if !bytes.HasPrefix(b, []byte(prefix)) || b[len(b)-1] != '}' {
		return 0, nil, false
	}
	rest = b[len(prefix):]
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		id = id*10 + uint64(rest[i]-'0')
	}
	if i == 0 || i > 19 {
		return 0, nil, false
	}
	return id, rest[i:], true
}

// appendJobs appends the chunk frames that send jobs, in order. It
// leaves out, and returns, the jobs whose arguments did not encode as one
// array or make too large a frame.
func appendJobs(buf []byte, jobs []*job) ([]byte, []*job) {
	var unsendable []*job
	for _, j := range jobs {
		start := len(buf)
		buf = append(buf, 0, 0, 0, 0) // the length, set below
		args, err := j.b.b.EncodeArgs(int(j.from), int(j.to))
		if err == nil {
			buf = appendChunk(buf, j.id, j.b.b.Task(), int(j.tries)+1, args)
		}
		if err != nil || len(buf)-start-4 > maxFrame {
			buf = buf[:start]
			unsendable = append(unsendable, j)
			continue
		}
		binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start-4))
	}
	return buf, unsendable
}
