package proc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/crewrun/crew/executor"
)

func TestFrameRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	msgs := []*message{
		{Type: msgHello, Inits: []string{"a"}, TimeoutMS: 5},
		{Type: msgResult, ID: 7, Error: &executor.RemoteError{Kind: executor.KindPanic, Message: "boom"}},
		{Type: msgCancel, ID: 9},
	}
	for _, m := range msgs {
		if err := writeFrame(w, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeRaw(w, appendValueResult(nil, 12, []byte(`{"a":[1,2]}`))); err != nil {
		t.Fatal(err)
	}
	if err := writeRaw(w, appendRunning(nil, 13)); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	r := bufio.NewReader(&b)
	for _, want := range msgs {
		var got message
		if err := readFrame(r, &got); err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if !bytes.Equal(gj, wj) {
			t.Errorf("frame %s came back as %s", wj, gj)
		}
	}
	var got message
	if err := readFrame(r, &got); err != nil || got.Type != msgResult || got.ID != 12 || string(got.Value) != `{"a":[1,2]}` {
		t.Errorf("fast-path result = %+v, %v", got, err)
	}
	if err := readFrame(r, &got); err != nil || got.Type != msgRunning || got.ID != 13 {
		t.Errorf("running frame = %+v, %v", got, err)
	}
}

// FuzzReadFrame feeds arbitrary frames to the pool's decoder: it must
// return a message or an error, never panic, and its fast path must agree
// with encoding/json.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte(`{"type":"result","id":3,"value":49}`))
	f.Add([]byte(`{"type":"result","id":3,"value":"x"}`))
	f.Add([]byte(`{"type":"result","id":3,"error":{"kind":"panic","message":"m"}}`))
	f.Add([]byte(`{"type":"result","id":,"value":}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		if writeRaw(w, payload) != nil {
			return
		}
		w.Flush()
		var m message
		if err := readFrame(bufio.NewReader(&b), &m); err != nil {
			return
		}
		var fast message
		if parseValueResult(payload, &fast) {
			var slow message
			if err := json.Unmarshal(payload, &slow); err != nil {
				t.Fatalf("fast path accepted %q, encoding/json rejects it: %v", payload, err)
			}
			if slow.ID != fast.ID || slow.Type != fast.Type {
				t.Fatalf("fast path read %q as id %d, encoding/json as %d", payload, fast.ID, slow.ID)
			}
		}
	})
}
