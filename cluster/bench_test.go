package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// BenchmarkMap measures end-to-end throughput of tiny tasks through an
// embedded server with two local workers, Map keeping 1024 in flight.
func BenchmarkMap(b *testing.B) {
	ex, err := cluster.New(b.Context(), "embedded", crew.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	crewtest.BenchmarkMapSquare(b, ex, crew.Unordered(), crew.Window(1024))
}

// BenchmarkLatency measures one task at a time, reporting p50 and p99.
func BenchmarkLatency(b *testing.B) {
	ex, err := cluster.New(b.Context(), "embedded", crew.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	b.ResetTimer()
	latency(b, ex)
}

// latency runs b.N tasks one at a time on ex and reports p50 and p99.
func latency(b *testing.B, ex crew.Executor) {
	lat := make([]time.Duration, 0, b.N)
	for i := range b.N {
		start := time.Now()
		if _, err := crew.Submit(b.Context(), ex, crewtest.Square, i).Wait(b.Context()); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// threeNodeExecutor starts a three-node cluster, an executor with streams
// replicated three times and two workers of two slots each in this
// process; stopping happens at the end of the benchmark.
func threeNodeExecutor(b *testing.B) crew.Executor {
	nodes := startThreeNodes(b)
	url := nodes.URL()
	ex, err := cluster.New(b.Context(), url, cluster.Replicas(3))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- cluster.Work(ctx, url, crew.Workers(2)) }()
	}
	b.Cleanup(func() {
		ex.Close()
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				b.Error(err)
			}
		}
	})
	return ex
}

// BenchmarkMapThreeNodes measures tiny tasks end to end through a cluster
// of three server processes with streams replicated three times, Map
// keeping 1024 in flight.
func BenchmarkMapThreeNodes(b *testing.B) {
	ex := threeNodeExecutor(b)
	crewtest.BenchmarkMapSquare(b, ex, crew.Unordered(), crew.Window(1024))
}

// BenchmarkLatencyThreeNodes measures one task at a time on the
// three-node cluster, reporting p50 and p99.
func BenchmarkLatencyThreeNodes(b *testing.B) {
	ex := threeNodeExecutor(b)
	b.ResetTimer()
	latency(b, ex)
}
