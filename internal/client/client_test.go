package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// serveRaw serves h on a unix socket and returns a client of it.
func serveRaw(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "hcl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c := New(sock)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestErrorDecoding(t *testing.T) {
	status, body := 0, ""
	c := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	for _, tc := range []struct {
		status int
		body   string
		kind   error
		msg    string
	}{
		{404, `{"message":"no such pod: x"}`, errdefs.ErrNotFound, "no such pod: x"},
		{400, `{"message":"bad"}`, errdefs.ErrInvalidArgument, "bad"},
		{409, `{"message":"busy"}`, errdefs.ErrConflict, "busy"},
		{503, `{"message":"later"}`, errdefs.ErrUnavailable, "later"},
		{500, `{"message":"boom"}`, nil, "boom"},
		{502, "upstream broke\n", nil, "502 Bad Gateway: upstream broke"},
		{404, "", errdefs.ErrNotFound, "404 Not Found"},
	} {
		status, body = tc.status, tc.body
		_, err := c.Info(ctx(t))
		var ce *Error
		if !errors.As(err, &ce) || ce.StatusCode != tc.status || ce.Message != tc.msg {
			t.Errorf("%d %q: got %#v", tc.status, tc.body, err)
			continue
		}
		for _, k := range []error{errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrUnavailable} {
			if errors.Is(err, k) != (k == tc.kind) {
				t.Errorf("%d: errors.Is(%v) = %v", tc.status, k, !(k == tc.kind))
			}
		}
	}
}

func TestPathEscaping(t *testing.T) {
	var got []string
	c := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.EscapedPath())
		w.WriteHeader(http.StatusNoContent)
	})
	c.StartPod(ctx(t), "we/ird?id#x")
	c.RemoveImage(ctx(t), "reg:5000/a/b:1.0", true)
	c.RemoveImage(ctx(t), "x/sha256:ab%", false)
	want := []string{"/v1/pods/we%2Fird%3Fid%23x/start", "/v1/images/reg:5000/a/b:1.0", "/v1/images/x/sha256:ab%25"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("paths %q, want %q", got, want)
	}
}

func TestUpgradeRefused(t *testing.T) {
	c := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "tcp" || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(http.StatusOK) // a server that does not upgrade
	})
	if _, err := c.Attach(ctx(t), "p", AttachOptions{Stdout: true}); err == nil || !strings.Contains(err.Error(), "did not upgrade") {
		t.Errorf("got %v", err)
	}
}

func TestCanceledHandshake(t *testing.T) {
	block := make(chan struct{})
	c := serveRaw(t, func(w http.ResponseWriter, r *http.Request) { <-block })
	defer close(block)
	cx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Attach(cx, "p", AttachOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
	if _, err := c.Wait(cx, "p", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait: got %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	dir := t.TempDir()
	c := New(filepath.Join(dir, "missing.sock"))
	_, err := c.Version(ctx(t))
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "is hyperd running?") {
		t.Errorf("missing socket: %v", err)
	}
	// A socket nobody listens on.
	sock := filepath.Join(dir, "dead.sock")
	l, _ := net.Listen("unix", sock)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := New(sock).Version(ctx(t)); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("dead socket: %v", err)
	}
}
