package cli

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/run"
)

type workerOptions struct {
	server string
	jobs   int
	token  string
	shell  bool
}

func newWorkerCommand(Streams) *cobra.Command {
	var o workerOptions
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run tasks from a crew server",
		Long: `crew worker connects to a crew server (crew serve, or any NATS server
with JetStream) and runs the tasks of every job submitted there, -j at a
time, until interrupted. It runs only tasks registered in this binary; a
task it does not know fails with an unknown-task error.

The jobs of crew run --cluster are shell commands: a worker runs them only
when started with --allow-shell, which lets anyone who can submit to the
server run commands as this worker's user. Use it with --token (and TLS
across machines) on a server only you can reach.`,
		Example: `  crew worker --server nats://10.0.0.5:4222 --token s3cret -j 16
  crew worker --server nats://10.0.0.5:4222 --token s3cret --allow-shell   # for crew run --cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.jobs < 1 {
				return usagef("-j %d: need at least 1", o.jobs)
			}
			run.AllowShell(o.shell)
			return cluster.Work(cmd.Context(), o.server, crew.Workers(o.jobs), cluster.Token(o.token))
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "nats://127.0.0.1:4222", "server URL")
	cmd.Flags().IntVarP(&o.jobs, "jobs", "j", runtime.NumCPU(), "tasks to run at once")
	cmd.Flags().StringVar(&o.token, "token", "", "secret token the server expects")
	cmd.Flags().BoolVar(&o.shell, "allow-shell", false, "run crew run --cluster jobs (shell commands from the server's clients)")
	return cmd
}
