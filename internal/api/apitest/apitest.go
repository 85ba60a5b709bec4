// Package apitest runs the real API server over a given backend on a
// temporary unix socket, for tests of the server and of its clients (as
// net/http/httptest does for HTTP handlers).
package apitest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperhq/hyper/internal/api"
)

// Serve serves b on a new unix socket and returns the socket's path. The
// server stops, and its error is reported, when the test ends. log may be
// nil (logs are discarded).
func Serve(t testing.TB, b api.Backend, log *slog.Logger) string {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "hapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "run", "hyper.sock")
	l, err := api.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.ServeListener(ctx, l, api.NewServer(b, log), log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return sock
}
