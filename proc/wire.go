package proc

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/crewrun/crew"
)

// The wire protocol between a pool and its workers (docs/protocol.md):
// frames of a 4-byte big-endian length followed by that many bytes of one
// JSON object, in both directions.

// maxFrame bounds a frame so that a corrupt length cannot make a reader
// allocate gigabytes.
const maxFrame = 64 << 20

// Message types.
const (
	msgHello    = "hello" // pool → worker, first: initializers and timeout
	msgReady    = "ready" // worker → pool: initializers built
	msgInitFail = "init_error"
	msgCall     = "call"   // pool → worker: a batch of calls, run in order
	msgCancel   = "cancel" // pool → worker: cancel the call with ID
	msgResult   = "result" // worker → pool: one call's value or error
)

type message struct {
	Type      string            `json:"type"`
	Inits     []string          `json:"inits,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
	PID       int               `json:"pid,omitempty"`
	Calls     []wireCall        `json:"calls,omitempty"`
	ID        uint64            `json:"id,omitempty"`
	Value     json.RawMessage   `json:"value,omitempty"`
	Error     *crew.RemoteError `json:"error,omitempty"`
}

type wireCall struct {
	ID   uint64          `json:"id"`
	Task string          `json:"task"`
	Arg  json.RawMessage `json:"arg"`
}

var errFrameTooBig = errors.New("proc: frame too large")

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
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return fmt.Errorf("%w: %d bytes", errFrameTooBig, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	*m = message{}
	if err := json.Unmarshal(b, m); err != nil {
		return fmt.Errorf("proc: bad frame: %w", err)
	}
	return nil
}

// appendCallFrame encodes a call batch by hand: the arguments are already
// JSON, and building the envelope without reflection keeps tiny tasks cheap.
func appendCallFrame(buf []byte, calls []*job) []byte {
	buf = append(buf, `{"type":"call","calls":[`...)
	for i, j := range calls {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"id":`...)
		buf = fmt.Appendf(buf, "%d", j.id)
		buf = append(buf, `,"task":`...)
		name, _ := json.Marshal(j.c.Task())
		buf = append(buf, name...)
		buf = append(buf, `,"arg":`...)
		buf = append(buf, j.arg...)
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}
