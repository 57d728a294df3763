package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// lockedBuffer is a bytes.Buffer a command writes to while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// selfSigned writes a self-signed certificate for 127.0.0.1, which is also
// the CA that clients trust, and returns its certificate and key files.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "crew serve test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// TestServeWorkerTLSNKey runs crew serve with TLS and nkey auth, a crew
// worker with the matching flags, and a task through them.
func TestServeWorkerTLSNKey(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	public, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "worker.nk")
	os.WriteFile(seedFile, seed, 0o600)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var serveErr, workerErr lockedBuffer
	serveCode := goMain(ctx, &wg, &serveErr, "serve", "--listen", "127.0.0.1:0", "--nkey-user", public, "--tls-cert", certFile, "--tls-key", keyFile)
	url := servedURL(t, &serveErr, serveCode)
	workerCode := goMain(ctx, &wg, &workerErr, "worker", "--server", url, "--nkey", seedFile, "--tls-ca", certFile, "-j", "2")

	tlsCfg, err := cluster.ClientTLS(certFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	squareThrough(t, ctx, url, &workerErr, cluster.NKey(seedFile), cluster.TLS(tlsCfg))
	// crew serve watches its workers, through nkeys and TLS too.
	waitFor(t, "crew serve to log the worker", func() bool {
		return strings.Contains(serveErr.String(), "joined: 2 slots, tasks ") && strings.Contains(serveErr.String(), "crewtest.square")
	})

	// A worker without the CA is refused at once.
	code, _, stderr := runCLI(t, "", "worker", "--server", url, "--nkey", seedFile)
	if code == 0 || !strings.Contains(stderr, "TLS") {
		t.Errorf("crew worker without --tls-ca: exit %d, stderr %q; want a TLS error", code, stderr)
	}
	cancel()
	exitedCleanly(t, map[string]<-chan int{"serve": serveCode, "worker": workerCode})
}

func TestServeWorkerFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--token", "t", "--nkey-user", "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"},
		{"serve", "--tls-cert", "cert.pem"},
		{"serve", "--tls-ca", "ca.pem"},
		{"worker", "--tls-key", "key.pem"},
		{"worker", "--token", "t", "--nkey", "seed.nk"},
		{"serve", "--routes", "127.0.0.1:6222"},
		{"worker", "--replicas", "-1"},
	} {
		if code, _, stderr := runCLI(t, "", args...); code != 2 {
			t.Errorf("crew %q: exit %d (stderr %q), want usage error 2", args, code, stderr)
		}
	}
}

// TestWorkerErrorHidesCredentials: crew worker names the server it could
// not reach without the password or token in its URL.
func TestWorkerErrorHidesCredentials(t *testing.T) {
	for _, url := range []string{"nats://alice:s3cretpw@127.0.0.1:1", "nats://s3cretpw@127.0.0.1:1"} {
		for _, args := range [][]string{
			{"worker", "--server", url, "-j", "1"},
			{"run", "--cluster", url, "echo", ":::", "a"},
		} {
			code, _, stderr := runCLI(t, "", args...)
			if code == 0 || strings.Contains(stderr, "s3cret") || !strings.Contains(stderr, "127.0.0.1:1") {
				t.Errorf("crew %s: exit %d, stderr %q; want an error naming the server without the secret", strings.Join(args, " "), code, stderr)
			}
		}
	}
}

// goMain runs crew with args in a goroutine, as another process would,
// its output in out; its exit status comes on the channel returned.
func goMain(ctx context.Context, wg *sync.WaitGroup, out *lockedBuffer, args ...string) <-chan int {
	code := make(chan int, 1)
	wg.Go(func() { code <- Main(ctx, args, Streams{In: strings.NewReader(""), Out: out, Err: out}) })
	return code
}

// squareThrough checks that a cluster executor connected to url with opts
// gets square(9) from the crew worker whose output is workerErr.
func squareThrough(t *testing.T, ctx context.Context, url string, workerErr *lockedBuffer, opts ...crew.Option) {
	t.Helper()
	ex, err := cluster.New(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	if got, err := crew.Submit(ctx, ex, crewtest.Square, 9).Wait(ctx); err != nil || got != 81 {
		t.Errorf("square(9) through crew serve and crew worker = %d, %v; stderr of the worker: %s", got, err, workerErr.String())
	}
}

// exitedCleanly checks the exit statuses of commands whose context ended.
func exitedCleanly(t *testing.T, codes map[string]<-chan int) {
	t.Helper()
	for name, code := range codes {
		if c := <-code; c != 0 && c != exitInterrupted {
			t.Errorf("crew %s exited with %d", name, c)
		}
	}
}

// servedURL waits for crew serve, writing to out, to say where it serves.
func servedURL(t *testing.T, out *lockedBuffer, code <-chan int) string {
	t.Helper()
	served := regexp.MustCompile(`serving on (\S+)`)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m := served.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("crew serve did not report its URL: %q", out.String())
		}
		select {
		case c := <-code:
			t.Fatalf("crew serve exited with %d: %s", c, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestServeWorkerTokenFromEnvironment checks that $CREW_TOKEN is the
// token of crew serve and crew worker when --token is not given, and that
// the server then refuses a client without it.
func TestServeWorkerTokenFromEnvironment(t *testing.T) {
	t.Setenv("CREW_TOKEN", "s3cret-from-env")
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var serveErr, workerErr lockedBuffer
	serveCode := goMain(ctx, &wg, &serveErr, "serve", "--listen", "127.0.0.1:0")
	url := servedURL(t, &serveErr, serveCode)
	if strings.Contains(serveErr.String(), "warning") {
		t.Errorf("crew serve on loopback warned: %s", serveErr.String())
	}
	workerCode := goMain(ctx, &wg, &workerErr, "worker", "--server", url, "-j", "1")
	if _, err := cluster.New(ctx, url); err == nil {
		t.Fatal("a client without the token was let in")
	}
	squareThrough(t, ctx, url, &workerErr, cluster.Token("s3cret-from-env"))
	cancel()
	exitedCleanly(t, map[string]<-chan int{"serve": serveCode, "worker": workerCode})
}

func TestReachableBeyondHost(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:4222": false, "127.0.0.2:4222": false, "[::1]:4222": false, "localhost:4222": false,
		"0.0.0.0:4222": true, ":4222": true, "[::]:4222": true, "10.0.0.5:4222": true, "crew.example.com:4222": true,
	} {
		if got := reachableBeyondHost(addr); got != want {
			t.Errorf("reachableBeyondHost(%q) = %v, want %v", addr, got, want)
		}
	}
}
