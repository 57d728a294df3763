package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// testPKI is a throwaway certificate authority with certificates it
// signed, as PEM files in a test's temporary directory.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	CAFile string
}

func newPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key}
	p.CAFile = p.write(t, name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(t *testing.T, name, kind string, der []byte) string {
	t.Helper()
	file := filepath.Join(p.dir, name)
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// issue signs a certificate for 127.0.0.1 and localhost with the given
// usage and returns its certificate and key files.
func (p *testPKI) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

// squareThrough runs square(7) on a worker started with opts through an
// executor made with the same options.
func squareThrough(t *testing.T, url string, opts ...crew.Option) {
	t.Helper()
	ex, err := cluster.New(t.Context(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cluster.Work(ctx, url, append(opts, crew.Workers(2))...) }()
	got, err := crew.Submit(t.Context(), ex, crewtest.Square, 7).Wait(t.Context())
	if err != nil || got != 49 {
		t.Errorf("square(7) = %d, %v; want 49", got, err)
	}
	if err := ex.Close(); err != nil {
		t.Error(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Work: %v", err)
	}
}

// refused checks that New and Work with opts fail at once with an error
// wrapping want.
func refused(t *testing.T, url string, want error, opts ...crew.Option) {
	t.Helper()
	start := time.Now()
	ex, err := cluster.New(t.Context(), url, opts...)
	if err == nil {
		ex.Close()
	}
	if !errors.Is(err, want) {
		t.Errorf("New = %v, want %v", err, want)
	}
	if err := cluster.Work(t.Context(), url, opts...); !errors.Is(err, want) {
		t.Errorf("Work = %v, want %v", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusal took %v: a timeout, not a clear error", d)
	}
}

func TestTLS(t *testing.T) {
	pki := newPKI(t, "crew-test")
	certFile, keyFile := pki.issue(t, "server", x509.ExtKeyUsageServerAuth)
	serverTLS, err := cluster.ServerTLS(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, cluster.ServerConfig{TLS: serverTLS})
	trusting, err := cluster.ClientTLS(pki.CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := cluster.ClientTLS(newPKI(t, "other").CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("trusted CA", func(t *testing.T) { squareThrough(t, url, cluster.TLS(trusting)) })
	t.Run("no CA", func(t *testing.T) { refused(t, url, cluster.ErrTLS) })
	t.Run("other CA", func(t *testing.T) { refused(t, url, cluster.ErrTLS, cluster.TLS(other)) })
}

func TestMutualTLS(t *testing.T) {
	pki := newPKI(t, "crew-test")
	certFile, keyFile := pki.issue(t, "server", x509.ExtKeyUsageServerAuth)
	serverTLS, err := cluster.ServerTLS(certFile, keyFile, pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, cluster.ServerConfig{TLS: serverTLS})
	clientCert, clientKey := pki.issue(t, "client", x509.ExtKeyUsageClientAuth)
	withCert, err := cluster.ClientTLS(pki.CAFile, clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	withoutCert, err := cluster.ClientTLS(pki.CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("client certificate", func(t *testing.T) { squareThrough(t, url, cluster.TLS(withCert)) })
	t.Run("no client certificate", func(t *testing.T) { refused(t, url, cluster.ErrTLS, cluster.TLS(withoutCert)) })
}

func TestClientTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	if _, err := cluster.ClientTLS(notPEM, "", ""); err == nil {
		t.Error("ClientTLS accepted a CA file with no certificate")
	}
	if _, err := cluster.ClientTLS(filepath.Join(dir, "missing.pem"), "", ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ClientTLS with a missing CA = %v, want ErrNotExist", err)
	}
	if _, err := cluster.ServerTLS(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ServerTLS with missing files = %v, want ErrNotExist", err)
	}
}

// TestServerTLSConfig checks that ServerTLS asks for client certificates
// exactly when given a client CA.
func TestServerTLSConfig(t *testing.T) {
	pki := newPKI(t, "crew-test")
	certFile, keyFile := pki.issue(t, "server", x509.ExtKeyUsageServerAuth)
	for _, ca := range []string{"", pki.CAFile} {
		cfg, err := cluster.ServerTLS(certFile, keyFile, ca)
		if err != nil {
			t.Fatal(err)
		}
		want := tls.NoClientCert
		if ca != "" {
			want = tls.RequireAndVerifyClientCert
		}
		if cfg.ClientAuth != want {
			t.Errorf("ServerTLS(client CA %q).ClientAuth = %v, want %v", ca, cfg.ClientAuth, want)
		}
	}
}

// TestEmbeddedOpensNoPort: the server New("embedded") starts has no
// credentials, and its in-process workers run the tasks of every job on
// it (shell commands for crew run --cluster embedded), so it must open no
// port that another local user could connect to.
func TestEmbeddedOpensNoPort(t *testing.T) {
	ex, err := cluster.New(t.Context(), "embedded", crew.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	if addr := cluster.EmbeddedAddr(ex); addr != nil {
		if conn, err := net.DialTimeout(addr.Network(), addr.String(), time.Second); err == nil {
			conn.Close()
			t.Errorf("the embedded server accepts connections on %s", addr)
		}
	}
	if got, err := crew.Submit(t.Context(), ex, crewtest.Square, 7).Wait(t.Context()); err != nil || got != 49 {
		t.Errorf("square of 7 on the embedded executor: %d, %v", got, err)
	}
}

// TestConnectErrorHidesCredentials: a server URL may carry a user and
// password or a token; the errors of New and Work name the server without
// them, whatever the failure (unreachable, or a URL that does not parse,
// whose error quotes it).
func TestConnectErrorHidesCredentials(t *testing.T) {
	for _, url := range []string{
		"nats://alice:s3cretpw@127.0.0.1:1",
		"nats://s3cretpw@127.0.0.1:1",
		"nats://127.0.0.1:1,nats://alice:s3cretpw@127.0.0.1:1",
		"nats://alice:s3cret%70w@127.0.0.1:1",
		"nats://alice:s3cretpw@127.0.0.1:port",
		"nats://alice:s3cretpw@127.0.0.1:1/%zz", // a path: the user information still ends at the @
	} {
		_, newErr := cluster.New(t.Context(), url)
		workErr := cluster.Work(t.Context(), url)
		for name, err := range map[string]error{"New": newErr, "Work": workErr} {
			switch {
			case err == nil:
				t.Errorf("%s(%q) succeeded", name, url)
			case strings.Contains(err.Error(), "s3cret"):
				t.Errorf("%s(%q): the error shows the secret: %v", name, url, err)
			case !strings.Contains(err.Error(), "127.0.0.1:"):
				t.Errorf("%s(%q): the error does not name the server: %v", name, url, err)
			}
		}
	}
}
