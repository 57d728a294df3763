package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/crewrun/crew/cluster"
)

// clusterClient holds the flags of the commands that look at or steer a
// crew server (crew jobs, crew cancel, crew top): its URL and the
// credentials, the same as crew worker's.
type clusterClient struct {
	server string
	auth   clusterAuth
}

func (c *clusterClient) register(f *pflag.FlagSet) {
	f.StringVar(&c.server, "server", "nats://127.0.0.1:4222", "server URL (of a cluster: every node's, comma-separated)")
	c.auth.register(f)
}

// observe connects to the server.
func (c *clusterClient) observe(ctx context.Context) (*cluster.Observer, error) {
	opts, err := c.auth.options()
	if err != nil {
		return nil, err
	}
	return cluster.Observe(ctx, c.server, opts...)
}

// whoAmI names this process for a job's record and its calls' errors:
// the command, user and host.
func whoAmI(command string) string {
	name := "?"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s (%s@%s)", command, name, host)
}

// viewAge formats a duration in seconds as 42s, 3m5s, 2h7m or 3d4h.
func viewAge(s float64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// viewRate formats calls per second.
func viewRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// runTime formats a task's run time with three significant digits.
func runTime(s float64) string {
	if s <= 0 {
		return "-"
	}
	d := time.Duration(math.Round(s * 1e9))
	for unit := time.Nanosecond; unit <= time.Second; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit).String()
		}
	}
	return d.Round(time.Second).String()
}

// firstLine returns the first line of s, cut to n runes.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
