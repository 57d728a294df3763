package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/run"
)

type workerOptions struct {
	server   string
	jobs     int
	replicas int
	auth     clusterAuth
	shell    bool
	drain    time.Duration
}

func newWorkerCommand(s Streams) *cobra.Command {
	var o workerOptions
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run tasks from a crew server",
		Long: `crew worker connects to a crew server (crew serve, or any NATS server
with JetStream) and runs the tasks of every job submitted there, -j at a
time, until interrupted.

crew worker runs crew's own tasks only: the shell jobs of crew run
--cluster (with --allow-shell), the visits of crew crawl --cluster, the
queries of crew primes. The tasks of your own Go program need your
program's binary running as a worker: have its main call
cluster.Work(ctx, url) (package github.com/crewrun/crew/cluster). Each
worker fetches only the tasks it has registered, so crew workers and your
workers can share a server: a task waits until a worker that has it
connects (crew serve logs which tasks wait, and why), and never fails on
a worker that lacks it.

Authenticate with --token (or $CREW_TOKEN, which ps does not show) or
--nkey (a seed file, see crew serve --help);
for a TLS server give the CA that signed its certificate with --tls-ca
(a tls:// server URL, or a server that requires TLS, uses TLS), and a client
certificate with --tls-cert/--tls-key if the server asks for one. Refused
credentials or an untrusted certificate fail at once, not after a timeout.

On a cluster of three servers, list their URLs separated by commas and
give --replicas 3 so that the streams survive the loss of a node.

The first SIGINT or SIGTERM drains the worker: it stops fetching, hands the
tasks it fetched but had not started back to the queue at once (without
counting a delivery against them), lets its running tasks finish for up to
--drain-timeout and exits; a second signal stops it at once (the running
tasks go to other workers). Deploys and scale-downs lose no work.

The jobs of crew run --cluster are shell commands: a worker takes them only
when started with --allow-shell, which lets anyone who can submit to the
server run commands as this worker's user. Use it with --token or --nkey
(and TLS across machines) on a server only you can reach. Without it the
worker leaves them to workers started with it.`,
		Example: `  crew worker --server nats://10.0.0.5:4222 --token s3cret -j 16
  crew worker --server tls://crew.example.com:4222 --nkey worker.nk --tls-ca ca.pem
  crew worker --server nats://a:4222,nats://b:4222,nats://c:4222 --replicas 3
  crew worker --server nats://10.0.0.5:4222 --token s3cret --allow-shell   # for crew run --cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.jobs < 1 {
				return usagef("-j %d: need at least 1", o.jobs)
			}
			opts, err := o.auth.options()
			if err != nil {
				return err
			}
			if o.replicas < 0 {
				return usagef("--replicas %d: negative", o.replicas)
			}
			if o.drain < 0 {
				return usagef("--drain-timeout %v: negative", o.drain)
			}
			opts = append(opts, crew.Workers(o.jobs), cluster.DrainTimeout(o.drain))
			if o.replicas > 0 {
				opts = append(opts, cluster.Replicas(o.replicas))
			}
			if !o.shell {
				opts = append(opts, cluster.Without(run.Shell.Name())) // left to workers with --allow-shell
			}
			run.AllowShell(o.shell)
			// The first SIGINT/SIGTERM drains, the second stops at once.
			ctx, now, release := cluster.Signals(cmd.Context())
			defer release()
			defer context.AfterFunc(ctx, func() {
				fmt.Fprintf(s.Err, "crew: worker draining: no new tasks, the fetched ones handed back, the running ones finishing (up to %v); interrupt again to stop at once\n", o.drain)
			})()
			return cluster.Work(ctx, o.server, append(opts, now)...)
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "nats://127.0.0.1:4222", "server URL (of a cluster: every node's, comma-separated)")
	cmd.Flags().IntVarP(&o.jobs, "jobs", "j", runtime.NumCPU(), "tasks to run at once")
	cmd.Flags().IntVar(&o.replicas, "replicas", 0, "replicate crew's streams on `N` cluster nodes (default: keep, 1 when creating)")
	o.auth.register(cmd.Flags())
	cmd.Flags().DurationVar(&o.drain, "drain-timeout", 30*time.Second, "on the first interrupt, let running tasks finish for up to this long (the second stops at once)")
	cmd.Flags().BoolVar(&o.shell, "allow-shell", false, "run crew run --cluster jobs (shell commands from the server's clients)")
	return cmd
}

// clusterAuth holds the credential flags of a cluster client: crew worker
// and any command with --cluster.
type clusterAuth struct {
	token, tokenFile, nkey string
	tlsCA, tlsCert, tlsKey string
}

func (a *clusterAuth) register(f *pflag.FlagSet) {
	f.StringVar(&a.token, "token", "", "secret token the server expects (default $"+tokenEnv+")")
	f.StringVar(&a.tokenFile, "token-file", "", "read the token from the first line of `FILE` (kept out of the process list)")
	f.StringVar(&a.nkey, "nkey", "", "authenticate with the nkey seed in `FILE`")
	f.StringVar(&a.tlsCA, "tls-ca", "", "trust the server certificates signed by this CA `FILE` (PEM)")
	f.StringVar(&a.tlsCert, "tls-cert", "", "client certificate `FILE` (PEM), for servers that require one")
	f.StringVar(&a.tlsKey, "tls-key", "", "private key `FILE` (PEM) of --tls-cert")
}

// executor connects a cluster executor with workers slots to url: what
// --cluster does for crew run and crew crawl. It says on stderr when no
// connected worker runs the tasks it submits, which then wait.
func (a *clusterAuth) executor(ctx context.Context, stderr io.Writer, url string, workers int, extra ...crew.Option) (crew.Executor, error) {
	opts, err := a.options()
	if err != nil {
		return nil, err
	}
	return cluster.New(ctx, url, append(append(opts, crew.Workers(workers), cluster.Notices(stderr)), extra...)...)
}

// options turns the flags into cluster options.
func (a *clusterAuth) options() ([]crew.Option, error) {
	var opts []crew.Option
	if (a.token != "" || a.tokenFile != "") && a.nkey != "" {
		return nil, usagef("--token and --nkey cannot be combined")
	}
	token, err := resolveToken(a.token, a.tokenFile, a.nkey != "")
	if err != nil {
		return nil, err
	}
	a.token = token
	if a.token != "" {
		opts = append(opts, cluster.Token(a.token))
	}
	if a.nkey != "" {
		opts = append(opts, cluster.NKey(a.nkey))
	}
	if (a.tlsCert == "") != (a.tlsKey == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if a.tlsCA != "" || a.tlsCert != "" {
		cfg, err := cluster.ClientTLS(a.tlsCA, a.tlsCert, a.tlsKey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, cluster.TLS(cfg))
	}
	return opts, nil
}
