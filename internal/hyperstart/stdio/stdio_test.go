package stdio

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

func pipe(t *testing.T) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || err == io.ErrClosedPipe
}

func TestAddThenClaim(t *testing.T) {
	r := New(4, time.Minute)
	a, _ := pipe(t)
	k := Key{"c", "e", "stdout"}
	if err := r.Add(k, a); err != nil {
		t.Fatal(err)
	}
	got, err := r.Claim(context.Background(), k, time.Second)
	if err != nil || got != a {
		t.Fatalf("claim: %v", err)
	}
	if r.Pending() != 0 {
		t.Fatal("still pending")
	}
}

func TestClaimThenAdd(t *testing.T) {
	r := New(4, time.Minute)
	a, _ := pipe(t)
	k := Key{"c", "e", "stdin"}
	go func() {
		time.Sleep(50 * time.Millisecond)
		r.Add(k, a)
	}()
	got, err := r.Claim(context.Background(), k, 5*time.Second)
	if err != nil || got != a {
		t.Fatalf("claim: %v", err)
	}
}

func TestClaimTimeout(t *testing.T) {
	r := New(4, time.Minute)
	k := Key{"c", "e", "stderr"}
	start := time.Now()
	if _, err := r.Claim(context.Background(), k, 50*time.Millisecond); err == nil {
		t.Fatal("no timeout")
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("timeout too slow")
	}
	// A later stream is kept, not handed to the expired claim.
	a, _ := pipe(t)
	r.Add(k, a)
	if r.Pending() != 1 {
		t.Fatal("late stream not pending")
	}
}

func TestExpiry(t *testing.T) {
	r := New(4, 30*time.Millisecond)
	a, _ := pipe(t)
	r.Add(Key{"c", "e", "stdout"}, a)
	time.Sleep(200 * time.Millisecond)
	if r.Pending() != 0 {
		t.Fatal("stream not expired")
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Fatal("expired stream not closed")
	}
}

func TestLimitAndReplace(t *testing.T) {
	r := New(1, time.Minute)
	a, ap := pipe(t)
	b, bp := pipe(t)
	r.Add(Key{"c", "1", "stdout"}, a)
	if err := r.Add(Key{"c", "2", "stdout"}, b); err == nil {
		t.Fatal("limit not enforced")
	}
	if !closed(bp) {
		t.Fatal("refused stream not closed")
	}
	c, _ := pipe(t)
	if err := r.Add(Key{"c", "1", "stdout"}, c); err != nil {
		t.Fatal(err)
	}
	if !closed(ap) {
		t.Fatal("replaced stream not closed")
	}
}

func TestDoubleClaim(t *testing.T) {
	r := New(4, time.Minute)
	k := Key{"c", "e", "stdout"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := r.Claim(ctx, k, time.Minute); done <- err }()
	time.Sleep(20 * time.Millisecond)
	if _, err := r.Claim(context.Background(), k, time.Second); err == nil {
		t.Fatal("second claim accepted")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled claim succeeded")
	}
}
