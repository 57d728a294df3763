package cluster

import (
	"cmp"
	"context"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/crewrun/crew/cluster/view"
)

// defaultHistory is how many ended jobs crew serve's view keeps by
// default.
const defaultHistory = 100

// startView starts the live view and metrics of Serve (cfg.UI,
// cfg.Metrics) on the server srv, and returns once they listen; they stop
// when ctx ends, and done is closed once they have.
func startView(ctx context.Context, srv *server.Server, cfg ServerConfig) (done <-chan struct{}, err error) {
	nc, err := inProcess(srv, cfg, "crew serve view")
	if err != nil {
		return nil, fmt.Errorf("cluster: live view: %w", err)
	}
	o, err := observe(ctx, nc, cmp.Or(cfg.History, defaultHistory))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: live view: %w", err)
	}
	vcfg := view.Config{UI: cfg.UI, Metrics: cfg.Metrics, Control: view.ControlOpen, Token: cfg.Token, Every: cfg.viewEvery}
	switch {
	case cfg.Token != "":
		vcfg.Control = view.ControlToken
	case len(cfg.NKeys) > 0:
		vcfg.Control = view.ControlOff
	}
	listening := make(chan struct{})
	vcfg.Ready = func(ui, metrics string) {
		if cfg.ViewReady != nil {
			cfg.ViewReady(ui, metrics)
		}
		close(listening)
	}
	failed := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer nc.Close()
		defer o.Close()
		failed <- view.Serve(ctx, viewSource{o}, vcfg)
	}()
	select {
	case <-listening:
		return stopped, nil
	case err := <-failed:
		<-stopped
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("cluster: live view: %w", err)
	}
}

// inProcess connects to srv from within its process, with the
// credentials the server takes (the token, or the key Serve added for
// itself to the nkeys).
func inProcess(srv *server.Server, cfg ServerConfig, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.InProcessServer(srv), nats.MaxReconnects(-1)}
	switch {
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	case cfg.monitor != nil:
		pub, _ := cfg.monitor.PublicKey()
		opts = append(opts, nats.Nkey(pub, cfg.monitor.Sign))
	}
	return nats.Connect(inProcessURL, opts...)
}

// viewSource is an Observer as the view's Source.
type viewSource struct{ o *Observer }

func (s viewSource) State(ctx context.Context) (view.State, error) { return s.o.State(ctx) }

func (s viewSource) Cancel(ctx context.Context, job, by string) (string, error) {
	c, err := s.o.Cancel(ctx, job, by)
	if err != nil {
		return "", err
	}
	return c.String(job), nil
}

func (s viewSource) Rerun(ctx context.Context, job, id, by string) (string, error) {
	return s.o.Rerun(ctx, job, id, by)
}

// String says what a cancellation of job did, in a sentence.
func (c Cancellation) String(job string) string {
	if c.Removed {
		return fmt.Sprintf("job %s: its executor did not answer; removed from the server (queued tasks dropped, running ones cancelled)", job)
	}
	return fmt.Sprintf("job %s cancelled: %d pending call(s) failed with ErrJobCancelled; queued tasks dropped, running ones cancelled", job, c.Calls)
}
