package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew/cluster"
)

type serveOptions struct {
	listen string
	store  string
	token  string
}

func newServeCommand(s Streams) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a NATS JetStream server for crew workers and executors",
		Long: `crew serve runs an embedded NATS server with JetStream, the queue that
cluster executors submit tasks to and crew worker processes take them from.
It runs until interrupted (Ctrl-C).

Tasks are kept in --store; a server restarted on the same directory keeps
the tasks that were pending. Without --store a temporary directory is used
and removed on exit. With --token, every client must present the same token.`,
		Example: `  crew serve --listen 127.0.0.1:4222 --store /var/lib/crew --token s3cret
  crew worker --server nats://127.0.0.1:4222 --token s3cret -j 8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cluster.Serve(cmd.Context(), cluster.ServerConfig{
				Listen:   o.listen,
				StoreDir: o.store,
				Token:    o.token,
				Ready: func(url string) {
					fmt.Fprintf(s.Err, "crew: serving on %s\n", url)
				},
			})
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:4222", "client address, host:port")
	cmd.Flags().StringVar(&o.store, "store", "", "JetStream directory (default: temporary)")
	cmd.Flags().StringVar(&o.token, "token", "", "secret token clients must present")
	return cmd
}
