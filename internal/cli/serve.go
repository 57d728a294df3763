package cli

import (
	"fmt"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew/cluster"
)

type serveOptions struct {
	listen, store, token       string
	tokenFile, ui, metrics     string
	history                    int
	nkeys                      []string
	tlsCert, tlsKey, tlsClient string
	syncAlways                 bool
	name, clusterListen        string
	routes                     []string
}

func newServeCommand(s Streams) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a NATS JetStream server for crew workers and executors",
		Long: `crew serve runs an embedded NATS server with JetStream, the queue that
cluster executors submit tasks to and crew worker processes take them from.
It runs until interrupted (Ctrl-C).

Workers take only the tasks whose names their binary registered: crew
worker runs crew's own tasks (shell jobs only with --allow-shell), and a
program's own tasks need that program's binary running cluster.Work. A task
no connected worker runs waits until one connects; crew serve logs which
tasks wait and why, and the workers joining and leaving.

Tasks are kept in --store; a server restarted on the same directory keeps
the tasks that were pending. Without --store a temporary directory is used
and removed on exit: after a restart, running workers take the new jobs,
and the calls that were pending fail (their executors report a lost job).

JetStream writes to disk at once but fsyncs only every two minutes: a power
cut (not a crash of crew serve) can lose the last two minutes of tasks.
--sync-always fsyncs every write (slower); a three-node NATS cluster with
replicated streams is the other way to durability.

Anyone who reaches the port can submit tasks that workers run, so outside a
trusted network use authentication and TLS:

  --token T         every client presents the same secret (--token T);
                    $CREW_TOKEN, when set, is the default of --token for
                    crew serve, crew worker and --cluster, and keeps the
                    secret out of the process list;
  --nkey-user U...  each client signs in with an nkey seed file (--nkey FILE)
                    whose public key is listed here (repeat the flag for
                    several keys); the seed never leaves the client.
                    Make a pair with: nk -gen user -pubout
                    (go install github.com/nats-io/nkeys/nk@latest).
  --tls-cert/--tls-key  serve TLS; clients trust it with --tls-ca CA.pem.
  --tls-ca CA       also require client certificates signed by CA.

A refused client fails at once with an authorization or TLS error. crew
serve warns when it listens beyond this machine without authentication.
--token-file FILE reads the token from a file, out of the process list.

--ui ADDR serves a live web page of the cluster (no network access needed:
its assets are built in): the jobs with their tasks queued, in flight,
done, failed and retried, rates, run times and who submitted them; the
workers; each job's last failures. With the cluster's token typed into the
page, a job can be cancelled and a failed call run again; with nkeys the
page is read-only (use crew cancel --nkey). --metrics ADDR serves the same
numbers to Prometheus. Both listen on 127.0.0.1 unless ADDR names another
host (":8222" is 127.0.0.1:8222). crew jobs, crew top and crew cancel are
the same in the terminal. Counts are kept in --store and survive a
restart; --history ended jobs are kept (older ones' records are removed).

Three crew serve processes (on three machines) form a NATS cluster with
--cluster-listen and --routes; clients list all three URLs, separated by
commas, and the first worker started with --replicas 3 creates replicated
streams: then a node can die without losing a task. The cluster port takes
no authentication or TLS: keep it on a private network.`,
		Example: `  # a server keeping its tasks in /var/lib/crew, token auth
  crew serve --listen 0.0.0.0:4222 --store /var/lib/crew --token s3cret

  # the same with a live view and metrics on this machine, the token out of ps
  crew serve --listen 0.0.0.0:4222 --store /var/lib/crew --token-file /etc/crew/token \
      --ui 127.0.0.1:8222 --metrics 127.0.0.1:9090
  crew worker --server nats://10.0.0.5:4222 --token s3cret -j 8

  # nkey auth over TLS
  crew serve --listen 0.0.0.0:4222 --store /var/lib/crew \
      --nkey-user UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4 \
      --tls-cert server.pem --tls-key server-key.pem
  crew worker --server tls://crew.example.com:4222 --nkey worker.nk --tls-ca ca.pem

  # a three-node cluster (the same command on hosts a, b and c, each with
  # its own --listen and --cluster-listen)
  crew serve --listen a:4222 --store /var/lib/crew --token s3cret \
      --cluster-listen a:6222 --routes a:6222,b:6222,c:6222
  crew worker --server nats://a:4222,nats://b:4222,nats://c:4222 --token s3cret --replicas 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkListen(o.listen); err != nil {
				return usagef("--listen: %v", err)
			}
			if (o.token != "" || o.tokenFile != "") && len(o.nkeys) > 0 {
				return usagef("--token and --nkey-user cannot be combined")
			}
			token, err := resolveToken(o.token, o.tokenFile, len(o.nkeys) > 0)
			if err != nil {
				return err
			}
			o.token = token
			if err := o.checkView(); err != nil {
				return err
			}
			if o.token == "" && len(o.nkeys) == 0 && reachableBeyondHost(o.listen) {
				fmt.Fprintf(s.Err, "crew: warning: %s is reachable from other machines and takes no --token or --nkey-user: anyone who reaches it can submit tasks, and run commands on workers started with --allow-shell\n", o.listen)
			}
			o.warnView(s)
			cfg := cluster.ServerConfig{
				Listen:        o.listen,
				StoreDir:      o.store,
				Token:         o.token,
				NKeys:         o.nkeys,
				SyncAlways:    o.syncAlways,
				Name:          o.name,
				ClusterListen: o.clusterListen,
				Routes:        o.routes,
				Ready: func(url string) {
					fmt.Fprintf(s.Err, "crew: serving on %s\n", url)
				},
				Log:       func(line string) { fmt.Fprintln(s.Err, line) },
				UI:        o.ui,
				Metrics:   o.metrics,
				History:   o.history,
				ViewReady: func(ui, metrics string) { viewReady(s, ui, metrics) },
			}
			if o.token != "" && len(o.nkeys) > 0 {
				return usagef("--token and --nkey-user cannot be combined")
			}
			if (o.tlsCert == "") != (o.tlsKey == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			if o.tlsClient != "" && o.tlsCert == "" {
				return usagef("--tls-ca needs --tls-cert and --tls-key")
			}
			if len(o.routes) > 0 && o.clusterListen == "" {
				return usagef("--routes needs --cluster-listen")
			}
			if o.tlsCert != "" {
				var err error
				if cfg.TLS, err = cluster.ServerTLS(o.tlsCert, o.tlsKey, o.tlsClient); err != nil {
					return err
				}
			}
			return cluster.Serve(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:4222", "client address, host:port")
	f.StringVar(&o.store, "store", "", "JetStream directory (default: temporary)")
	f.StringVar(&o.token, "token", "", "secret token clients must present (default $"+tokenEnv+")")
	f.StringVar(&o.tokenFile, "token-file", "", "read the token from the first line of `FILE` (kept out of the process list)")
	f.StringVar(&o.ui, "ui", "", "serve the live view (jobs, workers, failures; cancel and rerun) at `ADDR`, e.g. 127.0.0.1:8222")
	f.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at `ADDR`/metrics, e.g. 127.0.0.1:9090")
	f.IntVar(&o.history, "history", 100, "ended jobs the live view keeps (older ones' records are removed)")
	f.StringArrayVar(&o.nkeys, "nkey-user", nil, "nkey user public `KEY` (U…) allowed to connect; repeatable")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this certificate `FILE` (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "private key `FILE` (PEM) of --tls-cert")
	f.StringVar(&o.tlsClient, "tls-ca", "", "require client certificates signed by this CA `FILE` (PEM)")
	f.BoolVar(&o.syncAlways, "sync-always", false, "fsync every write (default: every two minutes)")
	f.StringVar(&o.clusterListen, "cluster-listen", "", "join a NATS cluster: `host:port` where the other nodes connect")
	f.StringSliceVar(&o.routes, "routes", nil, "cluster addresses (`host:port,...`) of the nodes; this node's own may be listed")
	f.StringVar(&o.name, "name", "", "server name, unique in a cluster (default: from --cluster-listen)")
	return cmd
}

// tokenEnv names the environment variable that gives --token its default,
// out of sight of ps.
const tokenEnv = "CREW_TOKEN"

// reachableBeyondHost reports whether a server listening on addr
// (host:port) can be reached from other machines: any address but a
// loopback one or localhost.
func reachableBeyondHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// checkListen refuses an address crew serve could not listen on, before
// it tries (and waits for a server that will not start).
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%s: the port must be a number from 0 to 65535", addr)
	}
	return nil
}
