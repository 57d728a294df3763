package fetch

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
)

// serverSHA256 returns the SHA-256 of the whole resource as the response
// header states it, in lower-case hex, and the header's name: Repr-Digest
// (RFC 9530, "sha-256=:BASE64:") or, failing that, Digest (RFC 3230,
// "SHA-256=BASE64"). Both describe the full representation, so they check
// a resumed download too; Content-Digest, which covers only the bytes of
// this response, does not.
func serverSHA256(h http.Header) (sum, from string) {
	for _, v := range h.Values("Repr-Digest") {
		for _, item := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			val = strings.TrimSpace(val)
			if ok && strings.TrimSpace(k) == "sha-256" && len(val) > 2 && val[0] == ':' && val[len(val)-1] == ':' {
				if s := hexOfBase64(val[1 : len(val)-1]); s != "" {
					return s, "Repr-Digest"
				}
			}
		}
	}
	for _, v := range h.Values("Digest") {
		for _, item := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "sha-256") {
				if s := hexOfBase64(strings.TrimSpace(val)); s != "" {
					return s, "Digest"
				}
			}
		}
	}
	return "", ""
}

func hexOfBase64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return ""
	}
	return hex.EncodeToString(b)
}
