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
