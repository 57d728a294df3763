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
	if parseValueResult(b, m) {
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

// appendCallFrame encodes a call batch by hand: the arguments are already
// JSON, and building the envelope without reflection keeps tiny tasks cheap.
func appendCallFrame(buf []byte, calls []*job) []byte {
	buf = append(buf, `{"type":"call","calls":[`...)
	for i, j := range calls {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"id":`...)
		buf = strconv.AppendUint(buf, j.id, 10)
		buf = append(buf, `,"task":`...)
		buf = strconv.AppendQuote(buf, j.c.Task())
		buf = append(buf, `,"arg":`...)
		buf = append(buf, j.arg...)
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}
