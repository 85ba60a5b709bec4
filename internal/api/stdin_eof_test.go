package api_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/client"
)

// The client's half-close ends stdin only: the stream, and the backend's
// context, go on until the output is complete. (net/http's own reader
// cancels the request context at EOF; the server must not read through it.)
func TestStdinEOFKeepsStreamAlive(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error {
		io.Copy(io.Discard, stdio.Stdin)
		time.Sleep(100 * time.Millisecond) // the process answers after its stdin closed
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_, err := io.WriteString(stdio.Stdout, "late output\n")
		return err
	}
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Container: "main", Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	io.WriteString(s, "input")
	s.CloseWrite()
	var out, errb bytes.Buffer
	if err := s.Copy(&out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "late output\n" {
		t.Fatalf("stdout %q, stderr %q: the stream ended with stdin", out.String(), errb.String())
	}
}

// TestAttachAnsweredOnceAttached: the upgrade is answered only once the
// backend says the streams are connected, so that a client which starts
// the pod after its attach was answered misses none of its output.
func TestAttachAnsweredOnceAttached(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	attached := make(chan time.Time, 1)
	e.f.attachesLate = true
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error {
		time.Sleep(200 * time.Millisecond) // subscribing takes a while
		attached <- time.Now()
		stdio.Attached()
		_, err := io.WriteString(stdio.Stdout, "first output\n")
		return err
	}
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Container: "main", Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	answered := time.Now()
	select {
	case at := <-attached:
		if answered.Before(at) {
			t.Fatalf("the attach was answered at %v, before the backend attached at %v", answered, at)
		}
	default:
		t.Fatal("the attach was answered before the backend attached")
	}
	var out, errb bytes.Buffer
	if err := s.Copy(&out, &errb); err != nil || out.String() != "first output\n" {
		t.Fatalf("stdout %q, stderr %q, %v", out.String(), errb.String(), err)
	}
}
