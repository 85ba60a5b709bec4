package guest

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest/guesttest"
	"github.com/hyperhq/hyper/internal/protocol"
)

// fakeGuest is a test-only guest peer: it sends hello, then serves a yamux
// session whose streams are handled by serve.
func fakeGuest(t *testing.T, serve func(s net.Conn)) *Client {
	t.Helper()
	host, g := net.Pipe()
	go guesttest.Serve(g, serve)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Connect(ctx, host, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readReq(s net.Conn) (protocol.StreamHeader, error) {
	var h protocol.StreamHeader
	if err := protocol.ReadFrame(s, &h); err != nil {
		return h, err
	}
	var req protocol.Empty
	return h, protocol.ReadFrame(s, &req)
}

func TestCallAndErrorMapping(t *testing.T) {
	c := fakeGuest(t, func(s net.Conn) {
		h, _ := readReq(s)
		if h.Method == protocol.MethodPing {
			protocol.WriteFrame(s, protocol.Response{})
		} else {
			protocol.WriteFrame(s, protocol.Response{Error: &protocol.Error{Code: protocol.CodeNotFound, Message: "no such container"}})
		}
		s.Close()
	})
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	err := c.RemoveContainer(ctx, "x")
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
}

func TestOversizedReplyFailsSession(t *testing.T) {
	c := fakeGuest(t, func(s net.Conn) {
		readReq(s)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], protocol.MaxFrameSize+1)
		s.Write(b[:])
		s.Write(make([]byte, 1024))
	})
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("oversized reply accepted")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session not failed after protocol violation")
	}
	if err := c.Ping(context.Background()); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("call after failure: %v", err)
	}
}

func TestSilentGuestBoundedByContext(t *testing.T) {
	c := fakeGuest(t, func(s net.Conn) { readReq(s); select {} })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("call not bounded by its context")
	}
}

func TestGarbageInsteadOfYamux(t *testing.T) {
	host, g := net.Pipe()
	go func() {
		g.Write(protocol.EncodeHello(protocol.Hello{Proto: protocol.Version}))
		g.Write([]byte("this is not yamux at all, this is garbage...."))
		buf := make([]byte, 1024)
		for {
			if _, err := g.Read(buf); err != nil {
				return
			}
		}
	}()
	c, err := Connect(context.Background(), host, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Ping(ctx)
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("garbage did not end the session")
	}
}

func TestNoHello(t *testing.T) {
	host, _ := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Connect(ctx, host, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}
