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
	"github.com/hyperhq/hyper/internal/endpoint"
)

// Serve serves b on a new unix socket and returns the socket's path. The
// server stops, and its error is reported, when the test ends. log may be
// nil (logs are discarded).
func Serve(t testing.TB, b api.Backend, log *slog.Logger) string {
	t.Helper()
	// Short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "hapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := endpoint.Host{Network: endpoint.Unix, Address: filepath.Join(dir, "run", "hyper.sock")}
	return ServeHost(t, b, log, h, api.ListenOptions{Group: api.SocketGroup}).Address
}

// ServeHost serves b on h as o says (tcp://127.0.0.1:0 for an ephemeral
// port) and returns the host listened on, until the test ends.
func ServeHost(t testing.TB, b api.Backend, log *slog.Logger, h endpoint.Host, o api.ListenOptions) endpoint.Host {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ls, err := api.Open([]endpoint.Host{h}, o, log)
	if err != nil {
		t.Fatal(err)
	}
	if h.Network == endpoint.TCP {
		h.Address = ls[0].Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ls, api.NewServer(b, log), log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return h
}
