package proc

import "time"

// SetHandshakeTimeout bounds the wait for a new worker's hello to d for
// one test.
func SetHandshakeTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := handshakeTimeout
	handshakeTimeout = d
	t.Cleanup(func() { handshakeTimeout = old })
}
