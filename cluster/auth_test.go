package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nkeys"

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

// newNKey writes a fresh nkey user seed to a file and returns the file and
// the public key.
func newNKey(t *testing.T) (seedFile, public string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	if public, err = kp.PublicKey(); err != nil {
		t.Fatal(err)
	}
	seedFile = filepath.Join(t.TempDir(), public[:8]+".nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return seedFile, public
}

func TestNKeyAuth(t *testing.T) {
	allowed, public := newNKey(t)
	stranger, _ := newNKey(t)
	url := serve(t, cluster.ServerConfig{NKeys: []string{public}})
	t.Run("listed seed", func(t *testing.T) { squareThrough(t, url, cluster.NKey(allowed)) })
	t.Run("other seed", func(t *testing.T) { refused(t, url, cluster.ErrAuth, cluster.NKey(stranger)) })
	t.Run("no credentials", func(t *testing.T) { refused(t, url, cluster.ErrAuth) })
	t.Run("token", func(t *testing.T) { refused(t, url, cluster.ErrAuth, cluster.Token("guess")) })
}

func TestNKeyBadInput(t *testing.T) {
	if _, err := cluster.New(t.Context(), "nats://127.0.0.1:1", cluster.NKey(filepath.Join(t.TempDir(), "missing.nk"))); !errors.Is(err, crew.ErrInvalidOption) {
		t.Errorf("NKey(missing file) = %v, want ErrInvalidOption", err)
	}
	seed, public := newNKey(t)
	for _, cfg := range []cluster.ServerConfig{
		{NKeys: []string{"not-a-key"}},
		{NKeys: []string{public[:len(public)-1]}},
		{NKeys: []string{public}, Token: "both"},
	} {
		cfg.Listen = "127.0.0.1:0"
		if err := cluster.Serve(t.Context(), cfg); err == nil {
			t.Errorf("Serve(NKeys %q, Token %q) accepted the configuration", cfg.NKeys, cfg.Token)
		}
	}
	raw, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	err = cluster.Serve(t.Context(), cluster.ServerConfig{Listen: "127.0.0.1:0", NKeys: []string{string(raw)}})
	if err == nil || !strings.Contains(err.Error(), "seed") || strings.Contains(err.Error(), string(raw)) {
		t.Errorf("Serve with a seed as a public key = %v, want an error about the seed that does not show it", err)
	}
}
