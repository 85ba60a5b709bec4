package api_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api"
)

// serving is a server whose shutdown a test times.
type serving struct {
	sock   string
	cancel context.CancelFunc
	done   chan error
}

func serveHandler(t *testing.T, h http.Handler) *serving {
	t.Helper()
	return serveLogged(t, h, slog.New(slog.DiscardHandler))
}

func serveLogged(t *testing.T, h http.Handler, log *slog.Logger) *serving {
	t.Helper()
	dir, err := os.MkdirTemp("", "hapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := api.Listen(filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{sock: l.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- api.ServeListener(ctx, l, h, log) }()
	t.Cleanup(cancel)
	return s
}

// stop cancels the server's context and returns how long ServeListener
// took to return, and its error; it fails the test past the shutdown's
// bound.
func (s *serving) stop(t *testing.T) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	s.cancel()
	bound := api.ShutdownGrace + api.HandlerGrace + time.Second
	select {
	case err := <-s.done:
		return time.Since(start), err
	case <-time.After(bound):
		t.Fatalf("ServeListener still running %v after its context ended", bound)
		return 0, nil
	}
}

func (s *serving) get(path string) (*http.Response, error) {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.sock)
	}}}
	return hc.Get("http://hyperd" + path)
}

// A handler stuck for good (on a wedged lock, a guest that no longer
// answers) does not hold the shutdown: its connection is closed, and it is
// logged and left behind.
func TestShutdownLeavesStuckHandlers(t *testing.T) {
	t.Parallel()
	entered, stuck := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	var logs syncLog
	s := serveLogged(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-stuck // ignores its context
	}), slog.New(slog.NewTextHandler(&logs, nil)))
	got := make(chan error, 1)
	go func() {
		resp, err := s.get("/v1/stuck")
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-entered
	took, err := s.stop(t)
	if err != nil {
		t.Errorf("ServeListener = %v", err)
	}
	if !strings.Contains(logs.String(), "left behind") || !strings.Contains(logs.String(), "GET /v1/stuck") {
		t.Errorf("the stuck request is not logged:\n%s", logs.String())
	}
	if took < api.ShutdownGrace {
		t.Errorf("shutdown took %v, less than the grace", took)
	}
	select {
	case err := <-got:
		if err == nil {
			t.Error("the stuck request got a response")
		}
	case <-time.After(time.Second):
		t.Error("the stuck request's connection was not closed")
	}
}

// syncLog is a log the server writes while the test reads it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// An upgraded stream (attach, exec) whose handler ignores its context ends
// when the shutdown closes its connection.
func TestShutdownClosesUpgradedStreams(t *testing.T) {
	t.Parallel()
	s := serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
		io.Copy(io.Discard, conn) // until the connection closes
	}))
	c, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /v1/pods/x/attach HTTP/1.1\r\nHost: hyperd\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "101") {
		t.Fatalf("upgrade: %q, %v", line, err)
	}
	took, err := s.stop(t)
	if err != nil {
		t.Errorf("ServeListener = %v", err)
	}
	if took > api.ShutdownGrace+api.HandlerGrace/2 {
		t.Errorf("shutdown took %v", took)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Errorf("the stream did not end with EOF: %v", err)
	}
}

// A request in flight at the signal finishes within the grace, with its
// context intact, and the shutdown returns as soon as it has.
func TestShutdownLetsRequestsFinish(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	s := serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-time.After(300 * time.Millisecond):
			io.WriteString(w, "done")
		case <-r.Context().Done():
			http.Error(w, "canceled", http.StatusServiceUnavailable)
		}
	}))
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := s.get("/v1/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-entered
	took, err := s.stop(t)
	if err != nil {
		t.Errorf("ServeListener = %v", err)
	}
	if took > api.ShutdownGrace/2 {
		t.Errorf("shutdown took %v, want about the request's 300ms", took)
	}
	if r := <-got; r.err != nil || r.body != "done" {
		t.Errorf("request = %q, %v; want it finished", r.body, r.err)
	}
}
