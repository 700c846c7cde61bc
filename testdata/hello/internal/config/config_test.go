package config

import "testing"

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr() != ":8080" {
		t.Fatalf("Addr() = %q, want :8080", cfg.Addr())
	}
}

func TestPort(t *testing.T) {
	cfg, err := FromEnv(env(map[string]string{"PORT": "9090"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9090 {
		t.Fatalf("Port = %d, want 9090", cfg.Port)
	}
	if _, err := FromEnv(env(map[string]string{"PORT": "http"})); err == nil {
		t.Fatal("PORT=http accepted")
	}
}
