// Package stdio holds the host's stdio streams until the ExecProcess
// request they belong to claims them.
//
// The host opens a process's stdio streams before sending ExecProcess, but
// streams are accepted concurrently, so either may arrive first. Streams
// nobody claims are closed after a timeout, and the number of pending
// streams is bounded, so a confused host cannot leak them.
package stdio

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
)

// Key names one standard stream of one process.
type Key struct {
	Container string
	Exec      string
	Stdio     string // protocol.Stdin, Stdout or Stderr
}

// Registry is the set of pending streams and pending claims.
type Registry struct {
	max int
	ttl time.Duration

	mu      sync.Mutex
	pending map[Key]*entry
	waiters map[Key]chan net.Conn
}

type entry struct {
	conn  net.Conn
	timer *time.Timer
}

// New returns a registry holding at most max unclaimed streams, each for
// at most ttl.
func New(max int, ttl time.Duration) *Registry {
	return &Registry{
		max:     max,
		ttl:     ttl,
		pending: make(map[Key]*entry),
		waiters: make(map[Key]chan net.Conn),
	}
}

// Add registers a stream. It hands the stream to a waiting claim, or keeps
// it until claimed or expired. A stream for a key already pending replaces
// (and closes) the older one. Add closes conn if it cannot keep it.
func (r *Registry) Add(key Key, conn net.Conn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.waiters[key]; ok {
		delete(r.waiters, key)
		ch <- conn // buffered
		return nil
	}
	if old, ok := r.pending[key]; ok {
		old.timer.Stop()
		old.conn.Close()
		delete(r.pending, key)
	}
	if len(r.pending) >= r.max {
		conn.Close()
		return errs.Unavailable("too many pending stdio streams (%d)", r.max)
	}
	e := &entry{conn: conn}
	e.timer = time.AfterFunc(r.ttl, func() { r.expire(key, e) })
	r.pending[key] = e
	return nil
}

func (r *Registry) expire(key Key, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[key] == e {
		delete(r.pending, key)
		e.conn.Close()
	}
}

// Claim returns the stream for key, waiting up to timeout for it.
func (r *Registry) Claim(ctx context.Context, key Key, timeout time.Duration) (net.Conn, error) {
	r.mu.Lock()
	if e, ok := r.pending[key]; ok {
		delete(r.pending, key)
		e.timer.Stop()
		r.mu.Unlock()
		return e.conn, nil
	}
	if _, ok := r.waiters[key]; ok {
		r.mu.Unlock()
		return nil, errs.Conflict("%s stream of %s/%s already being claimed", key.Stdio, key.Container, key.Exec)
	}
	ch := make(chan net.Conn, 1)
	r.waiters[key] = ch
	r.mu.Unlock()

	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case c := <-ch:
		return c, nil
	case <-t.C:
		err = errs.Unavailable("%s stream of %s/%s did not arrive within %v", key.Stdio, key.Container, key.Exec, timeout)
	case <-ctx.Done():
		err = errs.Unavailable("waiting for %s stream: %w", key.Stdio, ctx.Err())
	}
	r.mu.Lock()
	if r.waiters[key] == ch {
		delete(r.waiters, key)
	}
	r.mu.Unlock()
	select {
	case c := <-ch: // delivered while we gave up
		return c, nil
	default:
		return nil, err
	}
}

// Pending returns the number of unclaimed streams.
func (r *Registry) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}
