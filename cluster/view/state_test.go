package view_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/crewrun/crew/cluster/view"
)

// TestHistogramQuantile: percentiles read from the histogram are within
// its bucket resolution (2^(1/4), 19 %) of the exact ones, over six
// orders of magnitude.
func TestHistogramQuantile(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h view.Histogram
	var exact []float64
	for range 100000 {
		d := time.Duration(math.Exp(r.Float64()*math.Log(1e6))) * time.Microsecond // 1 µs to 1 s, log-uniform
		exact = append(exact, d.Seconds())
		b := view.Bucket(d)
		for len(h.Counts) <= b {
			h.Counts = append(h.Counts, 0)
		}
		h.Counts[b]++
		h.Sum += d.Seconds()
	}
	slices.Sort(exact)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		want := exact[int(q*float64(len(exact)))-1]
		if got := h.Quantile(q); got < want/1.19 || got > want*1.19 {
			t.Errorf("q%v: %v, exact %v", q, got, want)
		}
	}
	if h.Total() != 100000 {
		t.Errorf("total %d", h.Total())
	}
	if got := (view.Histogram{}).Quantile(0.5); got != 0 {
		t.Errorf("empty histogram's median: %v", got)
	}
}

func TestBucketBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 500 * time.Nanosecond, time.Microsecond, 1001 * time.Nanosecond, 2 * time.Microsecond,
		time.Millisecond, 3 * time.Second, time.Hour, 100 * time.Hour} {
		b := view.Bucket(d)
		if s := d.Seconds(); s > view.UpperBound(b)*(1+1e-9) || b > 0 && s <= view.UpperBound(b-1) {
			t.Errorf("%v in bucket %d: (%v, %v]", d, b, view.UpperBound(b-1), view.UpperBound(b))
		}
	}
	if !math.IsInf(view.UpperBound(view.Buckets-1), 1) {
		t.Error("the last bucket is bounded")
	}
}
