package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// ServerConfig configures the NATS server that Serve runs.
type ServerConfig struct {
	// Listen is the client address, host:port; "127.0.0.1:4222" if empty,
	// and port 0 picks a free one.
	Listen string
	// StoreDir holds JetStream's files. Tasks survive a restart that
	// reuses it. Empty means a temporary directory removed on exit.
	StoreDir string
	// Token, when set, is the secret every client must present.
	Token string
	// NKeys, when set, are the nkey user public keys (U…) allowed to
	// connect; each client proves it holds the matching seed (NKey). It
	// cannot be combined with Token.
	NKeys []string
	// TLS, when set, makes the server require TLS from clients (see
	// ServerTLS); with ClientAuth tls.RequireAndVerifyClientCert, clients
	// must present a certificate signed by ClientCAs.
	TLS *tls.Config
	// SyncAlways makes JetStream fsync every write instead of every two
	// minutes: slower, but a power cut loses nothing acknowledged.
	SyncAlways bool
	// Name names the server. The nodes of a cluster need distinct names
	// that stay the same across restarts; the default there is the
	// ClusterListen address.
	Name string
	// ClusterListen, when set, makes the server a node of a NATS cluster:
	// the address (host:port) where the other nodes connect to it. Routes
	// are not authenticated or encrypted: keep this port on a private
	// network.
	ClusterListen string
	// Routes are the ClusterListen addresses of the other nodes
	// (host:port or nats-route://host:port); listing this node's own is
	// harmless, so every node can get the same list.
	Routes []string
	// Ready, if set, receives the client URL once the server accepts
	// connections. In a cluster, JetStream works once a majority of the
	// nodes run.
	Ready func(url string)
	// Log, if set, receives the server's notices, one line each: workers
	// joining and leaving, and tasks that wait because no connected
	// worker has registered their name (see docs/protocol-cluster.md).
	Log func(line string)
	// UI and Metrics, when set, are the addresses (host:port; a bare
	// ":port" means 127.0.0.1) of the live view — a web page of the
	// jobs, workers and failures, with cancel and rerun — and of its
	// Prometheus metrics (package view; crew serve --ui, --metrics). The
	// page's control needs Token when the server has one, and is off with
	// NKeys.
	UI, Metrics string
	// ViewReady, if set, receives the URLs of the view and the metrics
	// once they listen.
	ViewReady func(ui, metrics string)
	// History is how many ended jobs the view keeps (default 100); older
	// ones' records and failures are removed from the server.
	History int

	// viewEvery is how often the view reads the state (default 1 s).
	viewEvery time.Duration

	// monitor is the key with which Serve's notices connect to the
	// server when it takes nkeys.
	monitor nkeys.KeyPair

	// inProcess makes the server listen on no port at all: New's
	// "embedded" server, whose only clients are in this process and
	// connect with nats.InProcessServer. A port, even on loopback, would
	// let any local user submit tasks, shell commands included, to the
	// workers of a server without credentials.
	inProcess bool
}

// Serve runs a NATS server with JetStream until ctx ends (crew serve).
// With cfg.Log set it also watches the server's workers and jobs and logs
// what a user needs to know: workers joining and leaving, and tasks that
// wait for a worker that has them.
func Serve(ctx context.Context, cfg ServerConfig) error {
	if (cfg.Log != nil || cfg.UI != "" || cfg.Metrics != "") && len(cfg.NKeys) > 0 {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return fmt.Errorf("cluster: server: %w", err)
		}
		pub, _ := kp.PublicKey()
		cfg.monitor, cfg.NKeys = kp, append(slices.Clip(cfg.NKeys), pub)
	}
	srv, cleanup, err := startServer(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	if cfg.UI != "" || cfg.Metrics != "" {
		done, err := startView(ctx, srv, cfg)
		if err != nil {
			return err
		}
		defer func() { <-done }()
	}
	if cfg.Ready != nil {
		cfg.Ready(srv.ClientURL())
	}
	if cfg.Log != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			monitor(ctx, srv, cfg)
		}()
	}
	<-ctx.Done()
	return nil
}

// startServer starts the server and returns it with a function that shuts
// it down and removes a temporary store.
func startServer(cfg ServerConfig) (*server.Server, func(), error) {
	if cfg.Token != "" && len(cfg.NKeys) > 0 {
		return nil, nil, errors.New("cluster: server: Token and NKeys cannot be combined")
	}
	if err := checkNKeys(cfg.NKeys); err != nil {
		return nil, nil, err
	}
	host, port, err := listenAddr(cfg)
	if err != nil {
		return nil, nil, err
	}
	store, temp := cfg.StoreDir, false
	if store == "" {
		if store, err = os.MkdirTemp("", "crew-nats-"); err != nil {
			return nil, nil, fmt.Errorf("cluster: store: %w", err)
		}
		temp = true
	}
	opts := &server.Options{
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           store,
		Authorization:      cfg.Token,
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         8 << 20,
		JetStreamMaxMemory: 256 << 20,
		DontListen:         cfg.inProcess,
	}
	for _, k := range cfg.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
	}
	opts.ServerName = cfg.Name
	if cfg.ClusterListen != "" {
		if err := clusterOptions(opts, cfg); err != nil {
			if temp {
				os.RemoveAll(store)
			}
			return nil, nil, err
		}
	}
	if cfg.SyncAlways {
		opts.SyncAlways = true
	}
	if cfg.TLS != nil {
		opts.TLSConfig = cfg.TLS
		opts.TLS = true
		opts.TLSVerify = cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		if temp {
			os.RemoveAll(store)
		}
		return nil, nil, fmt.Errorf("cluster: server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		if temp {
			os.RemoveAll(store)
		}
		return nil, nil, errors.New("cluster: server did not start in 10s (is the port taken?)")
	}
	return srv, func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		if temp {
			os.RemoveAll(store)
		}
	}, nil
}

// listenAddr returns the host and port the server listens on for clients:
// cfg.Listen, 127.0.0.1:4222 by default, port 0 picking a free one.
func listenAddr(cfg ServerConfig) (host string, port int, err error) {
	if cfg.inProcess {
		return "127.0.0.1", server.RANDOM_PORT, nil // not opened (DontListen)
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: listen address %q: %w", listen, err)
	}
	port, err = strconv.Atoi(portText)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: listen port %q: %w", portText, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// clusterOptions sets the route options of a cluster node.
func clusterOptions(opts *server.Options, cfg ServerConfig) error {
	host, portText, err := net.SplitHostPort(cfg.ClusterListen)
	if err != nil {
		return fmt.Errorf("cluster: cluster address %q: %w", cfg.ClusterListen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 {
		return fmt.Errorf("cluster: cluster address %q: need a fixed port, the other nodes' routes name it", cfg.ClusterListen)
	}
	opts.Cluster = server.ClusterOpts{Name: "crew", Host: host, Port: port}
	if opts.ServerName == "" {
		opts.ServerName = "crew-" + strings.NewReplacer(":", "-", "[", "", "]", "").Replace(cfg.ClusterListen)
	}
	for _, r := range cfg.Routes {
		if !strings.Contains(r, "://") {
			r = "nats-route://" + r
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("cluster: route %q: want host:port", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}
