// Package handlers holds the service's HTTP handlers.
package handlers

import (
	"encoding/json"
	"net/http"

	"example.com/hello/pkg/greeting"
)

// New returns the service's router; version is reported by GET /version.
func New(version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(version))
	})
	mux.HandleFunc("GET /greet", greet)
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

type greetResponse struct {
	Message string `json:"message"`
	Lang    string `json:"lang"`
}

func greet(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	lang := r.URL.Query().Get("lang")
	msg, err := greeting.Greet(name, lang)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(greetResponse{Message: msg, Lang: greeting.Normalize(lang)}); err != nil {
		http.Error(w, "encoding response", http.StatusInternalServerError)
	}
}
