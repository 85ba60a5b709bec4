package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// How long ServeListener's shutdown may take: requests in flight get
// ShutdownGrace to finish on their own; then their contexts are canceled
// and every connection is closed (upgraded streams too), and the handlers
// get HandlerGrace more to return. Handlers still running after that (an
// exec's waits for its process, which runs on in the VM; others may be
// stuck) are logged and left behind: ServeListener returns regardless.
const (
	ShutdownGrace = 2 * time.Second
	HandlerGrace  = time.Second
)

// shutdown stops srv, whose connections ls track and whose handlers
// requests tracks, within ShutdownGrace+HandlerGrace; cancelBase cancels
// the requests' contexts.
func shutdown(srv *http.Server, ls []*trackingListener, requests *inFlight, cancelBase context.CancelFunc, log *slog.Logger) error {
	grace, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	// Shutdown stops accepting and waits for the plain requests; upgraded
	// streams are their handlers' own, waited for by requests.
	_ = srv.Shutdown(grace)
	idle := requests.wait(grace)
	if !idle {
		log.Warn("api shutdown: canceling requests still in flight", "requests", requests.list())
	}
	cancelBase()
	err := srv.Close()
	for _, l := range ls {
		l.closeAll()
	}
	if idle {
		return err
	}
	more, cancel := context.WithTimeout(context.Background(), HandlerGrace)
	defer cancel()
	if !requests.wait(more) {
		// An exec's handler waits for its process, which runs on in the
		// VM; anything else is stuck. Either way the process may exit.
		log.Warn("api shutdown: request handlers still running, left behind", "requests", requests.list())
	}
	return err
}

// inFlight tracks the requests whose handlers are running.
type inFlight struct {
	mu   sync.Mutex
	next uint64
	reqs map[uint64]request
	idle chan struct{} // closed while reqs is empty
}

type request struct {
	what  string // method and URI, for logs
	since time.Time
}

func newInFlight() *inFlight {
	idle := make(chan struct{})
	close(idle)
	return &inFlight{reqs: map[uint64]request{}, idle: idle}
}

// wrap tracks h's requests.
func (f *inFlight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := f.add(r.Method + " " + r.URL.RequestURI())
		defer f.done(id)
		h.ServeHTTP(w, r)
	})
}

func (f *inFlight) add(what string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.idle = make(chan struct{})
	}
	f.next++
	f.reqs[f.next] = request{what, time.Now()}
	return f.next
}

func (f *inFlight) done(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.reqs, id)
	if len(f.reqs) == 0 {
		close(f.idle)
	}
}

// wait reports whether no handler is running by the time ctx ends.
func (f *inFlight) wait(ctx context.Context) bool {
	f.mu.Lock()
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

// list describes the requests in flight, oldest first, with their age.
func (f *inFlight) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]uint64, 0, len(f.reqs))
	for id := range f.reqs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("%s (%s)", f.reqs[id].what, time.Since(f.reqs[id].since).Round(time.Millisecond))
	}
	return out
}

// trackingListener remembers its open connections, hijacked ones included
// (http.Server forgets those), so that shutdown can close them all.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func newTrackingListener(l net.Listener) *trackingListener {
	return &trackingListener{Listener: l, conns: map[*trackedConn]struct{}{}}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite half-closes the connection (the end of an upgraded stream).
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
