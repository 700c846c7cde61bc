// Package config reads the service's settings from the environment.
package config

import (
	"fmt"
	"strconv"
	"time"
)

// Config holds the service settings.
type Config struct {
	Port            int
	ShutdownTimeout time.Duration
}

// Lookup reads one environment variable; os.LookupEnv fits.
type Lookup func(key string) (string, bool)

// FromEnv builds a Config from PORT and SHUTDOWN_TIMEOUT, with defaults 8080 and 10s.
func FromEnv(lookup Lookup) (Config, error) {
	cfg := Config{Port: 8080, ShutdownTimeout: 10 * time.Second}
	if v, ok := lookup("PORT"); ok && v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port <= 0 || port > 65535 {
			return Config{}, fmt.Errorf("PORT=%q: want a port number from 1 to 65535", v)
		}
		cfg.Port = port
	}
	if v, ok := lookup("SHUTDOWN_TIMEOUT"); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("SHUTDOWN_TIMEOUT=%q: %v", v, err)
		}
		cfg.ShutdownTimeout = d
	}
	return cfg, nil
}

// Addr is the listen address for the configured port.
func (c Config) Addr() string {
	return ":" + strconv.Itoa(c.Port)
}
