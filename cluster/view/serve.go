package view

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Source is where the view reads the cluster's state and sends the
// page's control requests: package cluster's Observer. by says who asks
// (the page and the client's address), for the job's record and the
// error its calls get.
type Source interface {
	State(ctx context.Context) (State, error)
	Cancel(ctx context.Context, job, by string) (string, error)
	Rerun(ctx context.Context, job, id, by string) (string, error)
}

// Control modes of the page.
const (
	ControlToken = "token" // cancel and rerun need the cluster's token
	ControlOpen  = "open"  // the cluster takes no credentials: neither does the page
	ControlOff   = "off"   // read-only (the cluster uses nkeys, which a page cannot sign with)
)

// Config configures Serve.
type Config struct {
	// UI and Metrics are the listen addresses (host:port) of the page and
	// of the Prometheus metrics; empty: not served. The same address
	// serves both. A bare ":port" or "port" listens on 127.0.0.1: other
	// machines reach the page only when a host says so. On a loopback
	// address, requests must name it by IP or as localhost (a defence
	// against DNS rebinding); elsewhere, protect control with a token.
	UI, Metrics string
	// Control is the page's control mode (ControlToken needs Token).
	Control string
	// Token is the secret the page's control requests must carry
	// (Authorization: Bearer). It never appears in a page or a log.
	Token string
	// Every is how often the state is read (default 1 s).
	Every time.Duration
	// Ready, if set, gets the URLs served (empty for one not served).
	Ready func(ui, metrics string)
}

// Page is the JSON behind the page (/api/state, and each server-sent
// event of /api/events): the state, and what the page may control.
type Page struct {
	State
	Control string `json:"control"`
}

// Serve serves the page and the metrics until ctx ends, reading the
// state from src every cfg.Every.
func Serve(ctx context.Context, src Source, cfg Config) error {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	switch cfg.Control {
	case ControlToken:
		if cfg.Token == "" {
			return errors.New("view: ControlToken needs a Token")
		}
	case ControlOpen, ControlOff:
	default:
		return fmt.Errorf("view: unknown control mode %q", cfg.Control)
	}
	h := newHub(src, cfg)
	muxes := map[string]*http.ServeMux{}
	mux := func(addr string) *http.ServeMux {
		addr = Loopback(addr)
		if muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
		}
		return muxes[addr]
	}
	if cfg.UI != "" {
		h.routes(mux(cfg.UI))
	}
	if cfg.Metrics != "" {
		mux(cfg.Metrics).Handle("GET /metrics", h.metrics())
	}
	var servers []*http.Server
	urls := map[string]string{}
	for addr, m := range muxes {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, s := range servers {
				s.Close()
			}
			return fmt.Errorf("view: listen %s: %w", addr, err)
		}
		urls[addr] = "http://" + ln.Addr().String()
		var handler http.Handler = m
		if ip := ln.Addr().(*net.TCPAddr).IP; ip.IsLoopback() {
			handler = loopbackHosts(m)
		}
		s := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
		servers = append(servers, s)
		go s.Serve(ln)
	}
	if cfg.Ready != nil {
		ui, metrics := "", ""
		if cfg.UI != "" {
			ui = urls[Loopback(cfg.UI)] + "/"
		}
		if cfg.Metrics != "" {
			metrics = urls[Loopback(cfg.Metrics)] + "/metrics"
		}
		cfg.Ready(ui, metrics)
	}
	var wg sync.WaitGroup
	wg.Go(func() { h.poll(ctx) })
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		if s.Shutdown(sctx) != nil {
			s.Close()
		}
	}
	wg.Wait()
	return nil
}

// Loopback returns addr with 127.0.0.1 as its host when it names none
// (":8222", or a bare port "8222").
func Loopback(addr string) string {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// loopbackHosts refuses a request to a loopback listener that names
// another host: a web page elsewhere whose name it made resolve to
// 127.0.0.1 (DNS rebinding) would otherwise count as this page's own
// origin and could read the cluster's state and, with no token, cancel its
// jobs. The page's own addresses are IP literals and localhost.
func loopbackHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.ToLower(host), ".")
		if net.ParseIP(strings.Trim(host, "[]")) == nil && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
			http.Error(w, fmt.Sprintf("crew: this page answers on its loopback address only, not as %q", r.Host), http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hub reads the state every cfg.Every and hands the latest to the page's
// clients and the metrics.
type hub struct {
	src Source
	cfg Config

	mu      sync.Mutex
	state   State
	page    []byte        // the latest Page, as JSON
	changed chan struct{} // closed and replaced at each new state
	err     error         // of the last read
}

func newHub(src Source, cfg Config) *hub {
	empty := State{Time: time.Now(), Jobs: []Job{}, Workers: []Worker{}}
	page, _ := json.Marshal(Page{State: empty, Control: cfg.Control})
	return &hub{src: src, cfg: cfg, changed: make(chan struct{}), state: empty, page: page}
}

// poll reads the state until ctx ends.
func (h *hub) poll(ctx context.Context) {
	tick := time.NewTicker(h.cfg.Every)
	defer tick.Stop()
	for {
		h.read(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// read reads the state once and tells the waiting clients.
func (h *hub) read(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, max(h.cfg.Every, 5*time.Second))
	st, err := h.src.State(rctx)
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = err
	if err != nil {
		return
	}
	body, err := json.Marshal(Page{State: st, Control: h.cfg.Control})
	if err != nil {
		h.err = err
		return
	}
	h.state, h.page = st, body
	close(h.changed)
	h.changed = make(chan struct{})
}

// latest returns the latest page, and a channel closed when a newer one
// comes.
func (h *hub) latest() ([]byte, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.page, h.changed
}

// current returns the latest state.
func (h *hub) current() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}
