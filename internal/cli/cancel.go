package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew/cluster"
)

func newCancelCommand(s Streams) *cobra.Command {
	var client clusterClient
	cmd := &cobra.Command{
		Use:   "cancel JOB...",
		Short: "Cancel jobs of a crew server from outside",
		Long: `crew cancel cancels jobs (executors) of a crew server, by the ids crew jobs
and the live view show. The job's executor fails its pending calls with an
error that wraps cluster.ErrJobCancelled, and so context.Canceled
(errors.Is holds for both), saying that the job was cancelled from outside
and by whom; its later calls fail the same way. The job is removed from the
server: workers cancel the contexts of its running tasks, its queued tasks
are dropped.

If the job's executor does not answer (it died), crew cancel removes the
job from the server itself.

It takes the server's credentials, like crew worker.`,
		Example: `  crew jobs --server nats://10.0.0.5:4222
  crew cancel --server nats://10.0.0.5:4222 gHO0zPFHvm3w6Wgz5tTIP3`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, jobs []string) error {
			obs, err := client.observe(cmd.Context())
			if err != nil {
				return err
			}
			defer obs.Close()
			by := whoAmI("crew cancel")
			var failed error
			for _, job := range jobs {
				c, err := obs.Cancel(cmd.Context(), job, by)
				switch {
				case errors.Is(err, cluster.ErrNoJob):
					failed = usagef("%v (crew jobs lists them)", err)
					fmt.Fprintf(s.Err, "crew: %v\n", failed)
				case err != nil:
					failed = err
					fmt.Fprintf(s.Err, "crew: %v\n", err)
				default:
					fmt.Fprintln(s.Out, c.String(job))
				}
			}
			if failed != nil {
				return exitStatus{exitCode(cmd.Context(), failed), errQuiet}
			}
			return nil
		},
	}
	client.register(cmd.Flags())
	return cmd
}
