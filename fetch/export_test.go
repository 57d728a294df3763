package fetch

import (
	"net/http"
	"os"
)

// AttrsSupported reports whether files in dir can hold the extended
// attribute Run keeps a complete file's validators in.
func AttrsSupported(dir string) bool {
	f, err := os.CreateTemp(dir, "attr")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return setAttr(f, []byte("{}")) == nil
}

// NetHTTPTransport is the net/http Transport the default transport falls
// back to, for cfg: the default without the fast path.
func NetHTTPTransport(cfg Config) http.RoundTripper {
	cfg, err := cfg.withDefaults()
	if err != nil {
		panic(err)
	}
	return newTransport(&cfg).(*h1Transport).fallback
}
