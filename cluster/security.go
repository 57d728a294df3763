package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

// ServerTLS loads the server side of TLS from PEM files: the server's
// certificate and key, and, if clientCAFile is not empty, the CA whose
// certificates clients must present (mutual TLS). Pass the result as
// ServerConfig.TLS.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		if cfg.ClientCAs, err = loadCAs(clientCAFile); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS loads the client side of TLS from PEM files: the CA that signed
// the server's certificate (empty: the system's roots) and, for a server
// that requires client certificates, the client's certificate and key.
// Pass the result to New or Work with the TLS option.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		var err error
		if cfg.RootCAs, err = loadCAs(caFile); err != nil {
			return nil, err
		}
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cluster: TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster: TLS CA %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// NKey makes the client authenticate with the nkey whose seed is in
// seedFile (crew worker --nkey FILE); the server must list the matching
// public key in ServerConfig.NKeys. The seed never leaves the client: it
// signs the server's nonce.
func NKey(seedFile string) crew.Option {
	return func(c *executor.Config) error {
		opt, err := nats.NkeyOptionFromSeed(seedFile)
		if err != nil {
			return fmt.Errorf("%w: cluster.NKey(%q): %w", crew.ErrInvalidOption, seedFile, err)
		}
		return executor.Custom(nkeyKey{}, opt)(c)
	}
}

// checkNKeys reports the first entry of keys that is not an nkey user
// public key (they start with U).
func checkNKeys(keys []string) error {
	for _, k := range keys {
		if _, err := nkeys.FromSeed([]byte(k)); err == nil {
			// Not echoed: it is a secret.
			return errors.New("cluster: NKeys holds a seed (S…), not a public key: the seed stays with the client, the server gets its public key (nk -inkey FILE -pubout)")
		}
		if !nkeys.IsValidPublicUserKey(k) {
			return fmt.Errorf("cluster: %q is not an nkey user public key (U…)", k)
		}
	}
	return nil
}

// ErrAuth reports that the server refused the client's credentials.
var ErrAuth = errors.New("cluster: authorization failed (check --token or --nkey)")

// ErrTLS reports a failed TLS handshake: the client does not trust the
// server's certificate, or the server refused the client's.
var ErrTLS = errors.New("cluster: TLS handshake failed (check --tls-ca, --tls-cert, --tls-key)")

// explain turns the errors NATS reports for bad credentials into ErrAuth
// and those of failed TLS handshakes into ErrTLS, so that callers can
// tell them from an unreachable server.
func explain(err error) error {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrPermissionViolation) {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var alert tls.AlertError
	var op *net.OpError // crypto/tls reports an alert from the peer as Op "remote error"
	if errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &alert) ||
		errors.As(err, &op) && op.Op == "remote error" ||
		errors.Is(err, nats.ErrTLS) || errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) {
		return fmt.Errorf("%w: %w", ErrTLS, err)
	}
	return err
}

// redactURL returns urls, a server URL or a comma-separated list of them,
// with the user information of each (nats://user:password@host, or
// nats://token@host: both secrets) replaced by "redacted", so that errors
// and logs can name the server without the credentials.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := userInfoEnd(p); at >= 0 {
			start := 0
			if k := strings.Index(p, "://"); k >= 0 {
				start = k + 3
			}
			parts[i] = p[:start] + "redacted" + p[at:]
		}
	}
	return strings.Join(parts, ",")
}

// userInfoEnd returns the index of the @ that ends the user information of
// url, or -1 if it has none.
func userInfoEnd(url string) int {
	start := 0
	if k := strings.Index(url, "://"); k >= 0 {
		start = k + 3
	}
	rest := url[start:]
	if k := strings.IndexAny(rest, "/?#"); k >= 0 {
		rest = rest[:k]
	}
	k := strings.LastIndex(rest, "@")
	if k < 0 {
		return -1
	}
	return start + k
}

// redactErr hides the credentials of urls in err's message: errors from
// parsing a URL quote it whole. errors.Is and errors.As still see err.
func redactErr(err error, urls string) error {
	var secrets []string
	for _, p := range strings.Split(urls, ",") {
		at := userInfoEnd(p)
		if at < 0 {
			continue
		}
		info := p[:at]
		if k := strings.Index(info, "://"); k >= 0 {
			info = info[k+3:]
		}
		// The whole user information first, then the secret part alone
		// (the password, or the token), raw and unescaped.
		secrets = append(secrets, info)
		secret := info
		if _, pw, ok := strings.Cut(info, ":"); ok {
			secret = pw
		}
		secrets = append(secrets, secret)
		if s, err := neturl.PathUnescape(secret); err == nil {
			secrets = append(secrets, s)
		}
	}
	if err == nil || len(secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: secrets}
}

// redactedError is an error whose message has its secrets cut out.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "redacted")
		}
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }
