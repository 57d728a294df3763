package cluster

import (
	"crypto/tls"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

// Client options, passed to New and Work with the crew options.
type (
	tokenKey   struct{}
	tlsKey     struct{}
	nkeyKey    struct{}
	batchKey   struct{}
	replKey    struct{}
	ackWaitKey struct{}
	withoutKey struct{}
	noticeKey  struct{}
)

// Token makes the client present token to the server (crew worker --token).
func Token(token string) crew.Option { return executor.Custom(tokenKey{}, token) }

// TLS makes the client connect with TLS using cfg (its RootCAs trust the
// server; Certificates authenticate the client if the server asks).
func TLS(cfg *tls.Config) crew.Option { return executor.Custom(tlsKey{}, cfg) }

// Batch sets how many tasks a worker fetches at once (default 64).
func Batch(n int) crew.Option {
	return func(c *executor.Config) error {
		if n < 1 {
			return fmt.Errorf("%w: cluster.Batch(%d): need at least 1", crew.ErrInvalidOption, n)
		}
		return executor.Custom(batchKey{}, n)(c)
	}
}

// AckWait sets how long a worker may go silent before its tasks are given
// to another worker (default 30s); a worker sends heartbeats for the tasks
// it holds every third of it, so it bounds how fast a dead worker's tasks
// move on.
func AckWait(d time.Duration) crew.Option { return executor.Custom(ackWaitKey{}, d) }

// Replicas sets the replication factor of the streams New and Work create
// or update (3 on a three-node cluster for durability). Without it a
// client keeps the replication the streams have, and creates them with 1.
func Replicas(n int) crew.Option { return executor.Custom(replKey{}, n) }

// Without makes a worker leave the tasks of these names to other workers:
// it neither fetches nor announces them, and they wait for a worker that
// runs them (crew worker leaves run.shell alone unless --allow-shell).
func Without(tasks ...string) crew.Option {
	return executor.Custom(withoutKey{}, slices.Clone(tasks))
}

// Notices makes an executor write a line to w when it submits tasks of a
// name that no connected worker runs: those tasks wait, within their
// context, until a worker that has registered the name connects (crew run
// --cluster passes its standard error). The embedded executor's own
// workers run every task of the program, so it says nothing.
func Notices(w io.Writer) crew.Option { return executor.Custom(noticeKey{}, w) }

func custom[T any](cfg executor.Config, key any, def T) T {
	if v, ok := cfg.Custom(key); ok {
		if t, ok := v.(T); ok {
			return t
		}
	}
	return def
}

// connect dials url with the client options in cfg.
func connect(url string, cfg executor.Config, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("crew"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	if tok := custom(cfg, tokenKey{}, ""); tok != "" {
		opts = append(opts, nats.Token(tok))
	}
	if nk := custom[nats.Option](cfg, nkeyKey{}, nil); nk != nil {
		opts = append(opts, nk)
	}
	if tc := custom[*tls.Config](cfg, tlsKey{}, nil); tc != nil {
		opts = append(opts, nats.Secure(tc))
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect %s: %w", redactURL(url), redactErr(explain(err), url))
	}
	return nc, nil
}
