package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew/cluster/view"
)

type jobsOptions struct {
	client clusterClient
	json   bool
}

func newJobsCommand(s Streams) *cobra.Command {
	var o jobsOptions
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the jobs of a crew server: queued, in flight, done, failed",
		Long: `crew jobs lists the jobs (executors) of a crew server, running ones first,
then the ended ones it keeps: who submitted each (program, host, pid; for
crew run --cluster the command template), its tasks queued and in flight
(read from JetStream now), its calls done, failed and retried (counted
once per call by its executor, kept across server restarts), its rate over
the last 10 seconds and over its life, and its tasks' run time (p50/p99).

--json prints the state the live view shows (crew serve --ui): jobs with
their recent failures, and the workers.

It takes the server's credentials, like crew worker.`,
		Example: `  crew jobs --server nats://10.0.0.5:4222 --token-file ~/.crew-token
  crew jobs --json | jq '.jobs[] | select(.failed > 0) | .failures[0].error'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			obs, err := o.client.observe(cmd.Context())
			if err != nil {
				return err
			}
			defer obs.Close()
			st, err := obs.State(cmd.Context())
			if err != nil {
				return err
			}
			if o.json {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			writeJobs(s.Out, st)
			return nil
		},
	}
	o.client.register(cmd.Flags())
	cmd.Flags().BoolVar(&o.json, "json", false, "print the jobs, their failures and the workers as JSON")
	return cmd
}

// writeJobs prints the jobs as a table.
func writeJobs(w io.Writer, st view.State) {
	if len(st.Jobs) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tQUEUED\tIN FLIGHT\tDONE\tFAILED\tRETRIED\tTASKS/S 10s\tTASKS/S\tP50\tP99\tAGE\tSUBMITTED BY")
	for _, j := range st.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.State, j.Queued, j.InFlight, j.Done,
			j.Failed, j.Retried, viewRate(j.Rate10s), viewRate(j.Rate), runTime(j.P50), runTime(j.P99), viewAge(j.Age), submitter(j))
	}
	tw.Flush()
}

// submitter says who submitted a job, and what it runs.
func submitter(j view.Job) string {
	s := fmt.Sprintf("%s on %s pid %d", j.Program, j.Host, j.PID)
	if j.Program == "" {
		s = "?"
	}
	if j.Label != "" {
		s += ": " + firstLine(j.Label, 60)
	}
	return s
}
