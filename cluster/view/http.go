package view

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The page: one HTML file, a script and a style sheet, embedded so that
// the view works without network access.
//
//go:embed assets
var assets embed.FS

// routes registers the page, its JSON and its control requests.
func (h *hub) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		page, _ := h.latest()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
	mux.HandleFunc("GET /api/events", h.events)
	mux.HandleFunc("POST /api/auth", h.control(func(*http.Request, string) (any, error) { return map[string]bool{"ok": true}, nil }))
	mux.HandleFunc("POST /api/jobs/{job}/cancel", h.control(func(r *http.Request, by string) (any, error) {
		msg, err := h.src.Cancel(r.Context(), r.PathValue("job"), by)
		return map[string]string{"message": msg}, err
	}))
	mux.HandleFunc("POST /api/jobs/{job}/rerun/{id}", h.control(func(r *http.Request, by string) (any, error) {
		id, err := h.src.Rerun(r.Context(), r.PathValue("job"), r.PathValue("id"), by)
		return map[string]string{"id": id}, err
	}))
}

// secure sets headers that keep the page from being framed or loading
// anything but its own assets.
func secure(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// events streams the page's JSON as server-sent events, one per new
// state.
func (h *hub) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		page, changed := h.latest()
		if _, err := fmt.Fprintf(w, "data: %s\n\n", page); err != nil {
			return
		}
		flusher.Flush()
		for waiting := true; waiting; {
			select {
			case <-r.Context().Done():
				return
			case <-changed:
				waiting = false
			case <-keepAlive.C:
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
					return
				}
				flusher.Flush()
			}
		}
	}
}

// Errors of the page's control requests, as their HTTP status says.
var (
	errReadOnly  = errors.New("this view is read-only: the cluster uses nkeys, which a browser cannot sign with; use crew cancel --nkey")
	errNoToken   = errors.New("control needs the cluster's token")
	errBadToken  = errors.New("wrong token")
	errCrossSite = errors.New("control requests come only from the page itself")
)

// control wraps a control request: it must come from the page (a header a
// form or another site cannot send without the browser asking first, and
// an Origin of this host), and carry the token if the cluster has one.
func (h *hub) control(do func(r *http.Request, by string) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, err := h.allowed(r)
		if err != nil {
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		out, err := do(r, "the live view, from "+r.RemoteAddr)
		if err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// allowed checks a control request.
func (h *hub) allowed(r *http.Request) (int, error) {
	if r.Header.Get("X-Crew-Control") != "1" {
		return http.StatusForbidden, errCrossSite
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if u, err := url.Parse(origin); err != nil || u.Host != r.Host {
			return http.StatusForbidden, errCrossSite
		}
	}
	switch h.cfg.Control {
	case ControlOff:
		return http.StatusForbidden, errReadOnly
	case ControlOpen:
		return 0, nil
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return http.StatusUnauthorized, errNoToken
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(h.cfg.Token)) != 1 {
		return http.StatusUnauthorized, errBadToken
	}
	return 0, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
