// Command hello is a small HTTP service used by slipway's examples and tests.
//
// It listens on $PORT (default 8080) and serves /healthz, /version and /greet.
package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/hello/internal/config"
	"example.com/hello/internal/handlers"
)

// version is injected at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	cfg, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		log.Fatalf("hello: %v", err)
	}
	srv := &http.Server{
		Addr:              cfg.Addr(),
		Handler:           handlers.New(version),
		ReadHeaderTimeout: 5 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			log.Printf("hello: shutdown: %v", err)
		}
	}()

	log.Printf("hello %s listening on %s", version, srv.Addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("hello: %v", err)
	}
}
