package handlers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Code, string(body)
}

func TestHealthz(t *testing.T) {
	code, body := get(t, New("v1.0.0"), "/healthz")
	if code != http.StatusOK || body != "ok" {
		t.Fatalf("GET /healthz = %d %q, want 200 \"ok\"", code, body)
	}
}

func TestVersion(t *testing.T) {
	code, body := get(t, New("v1.2.3"), "/version")
	if code != http.StatusOK || body != "v1.2.3" {
		t.Fatalf("GET /version = %d %q, want 200 \"v1.2.3\"", code, body)
	}
}

func TestGreet(t *testing.T) {
	code, body := get(t, New("dev"), "/greet?name=Ada")
	if code != http.StatusOK {
		t.Fatalf("GET /greet = %d %q", code, body)
	}
}
