package cli

import (
	"fmt"

	"github.com/crewrun/crew/cluster/view"
)

// checkView refuses live view and metrics addresses crew serve could not
// listen on, and a negative --history.
func (o *serveOptions) checkView() error {
	for flag, addr := range map[string]string{"--ui": o.ui, "--metrics": o.metrics} {
		if addr == "" {
			continue
		}
		if err := checkListen(view.Loopback(addr)); err != nil {
			return usagef("%s: %v", flag, err)
		}
	}
	if o.history < 1 {
		return usagef("--history %d: need at least 1", o.history)
	}
	return nil
}

// warnView warns when the live view or the metrics can be reached from
// other machines while the cluster takes no credentials: anyone could
// then cancel jobs from the page, and read the jobs' commands and errors.
// A bare ":port" listens on loopback (view.Loopback).
func (o *serveOptions) warnView(s Streams) {
	if o.token != "" || len(o.nkeys) > 0 {
		return
	}
	if o.ui != "" && reachableBeyondHost(view.Loopback(o.ui)) {
		fmt.Fprintf(s.Err, "crew: warning: the live view at %s is reachable from other machines and the cluster takes no --token or --nkey-user: anyone who reaches it can read the jobs' commands and errors, cancel jobs and rerun tasks\n", o.ui)
	}
	if o.metrics != "" && reachableBeyondHost(view.Loopback(o.metrics)) {
		fmt.Fprintf(s.Err, "crew: warning: the metrics at %s are reachable from other machines and the cluster takes no --token or --nkey-user: anyone who reaches them can read the jobs and workers\n", o.metrics)
	}
}

// viewReady says where the live view and the metrics are served.
func viewReady(s Streams, ui, metrics string) {
	if ui != "" {
		fmt.Fprintf(s.Err, "crew: live view on %s\n", ui)
	}
	if metrics != "" {
		fmt.Fprintf(s.Err, "crew: metrics on %s\n", metrics)
	}
}
