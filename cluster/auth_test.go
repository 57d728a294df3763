package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// serve starts a server on a free loopback port for the test and returns
// its URL.
func serve(t *testing.T, cfg cluster.ServerConfig) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	cfg.Listen = "127.0.0.1:0"
	cfg.Ready = func(url string) { urls <- url }
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errc <- cluster.Serve(ctx, cfg)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case url := <-urls:
		return url
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	}
	return ""
}

func TestTokenAuth(t *testing.T) {
	url := serve(t, cluster.ServerConfig{Token: "s3cret"})
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"right token", "s3cret", true},
		{"wrong token", "guess", false},
		{"no token", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := cluster.New(t.Context(), url, cluster.Token(tc.token))
			if !tc.ok {
				if !errors.Is(err, cluster.ErrAuth) {
					t.Fatalf("New with %q = %v, want ErrAuth", tc.token, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- cluster.Work(ctx, url, crew.Workers(2), cluster.Token(tc.token)) }()
			got, err := crew.Submit(t.Context(), ex, crewtest.Square, 7).Wait(t.Context())
			if err != nil || got != 49 {
				t.Errorf("square(7) through a token-protected server = %d, %v", got, err)
			}
			if err := ex.Close(); err != nil {
				t.Error(err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Work: %v", err)
			}
		})
	}
	if err := cluster.Work(t.Context(), url, cluster.Token("guess")); !errors.Is(err, cluster.ErrAuth) {
		t.Errorf("Work with a wrong token = %v, want ErrAuth", err)
	}
}
