// Package rpc serves the streams of a yamux session opened by the host:
// it reads each stream's header, dispatches "rpc" streams to registered
// method handlers and hands "stdio" streams to the stdio registry.
//
// A handler error or panic never ends the session or the process; it goes
// back to the host as a protocol.Error.
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/stdio"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Timeouts and limits on what the host may make us wait for or hold.
const (
	HeaderTimeout    = 10 * time.Second // header and request frames
	ReplyTimeout     = 30 * time.Second // writing the response
	MaxActiveStreams = 1024             // streams being read or served at once
)

// Handler decodes one request from r and returns the result to send back.
type Handler func(ctx context.Context, r io.Reader) (any, error)

// Method adapts a typed function into a Handler.
func Method[Req, Res any](f func(context.Context, Req) (Res, error)) Handler {
	return func(ctx context.Context, r io.Reader) (any, error) {
		var req Req
		if err := protocol.ReadFrame(r, &req); err != nil {
			return nil, errs.Invalid("reading request: %w", err)
		}
		return f(ctx, req)
	}
}

// StreamHandler serves a stream of its own kind (protocol.KindArchive)
// after its header: it reads and writes frames and data itself. The
// stream closes when it returns.
type StreamHandler func(ctx context.Context, conn net.Conn)

// Mux dispatches streams. Register handlers before serving.
type Mux struct {
	handlers map[string]Handler
	streams  map[string]StreamHandler // KindArchive, by method
	stdio    *stdio.Registry
	active   chan struct{}
}

// NewMux returns a Mux handing stdio streams to reg.
func NewMux(reg *stdio.Registry) *Mux {
	return &Mux{
		handlers: make(map[string]Handler),
		streams:  make(map[string]StreamHandler),
		stdio:    reg,
		active:   make(chan struct{}, MaxActiveStreams),
	}
}

// Handle registers the handler of a method.
func (m *Mux) Handle(method string, h Handler) { m.handlers[method] = h }

// HandleStream registers the handler of a KindArchive stream method.
func (m *Mux) HandleStream(method string, h StreamHandler) { m.streams[method] = h }

// Acceptor is the part of a yamux session the Mux uses.
type Acceptor interface {
	Accept() (net.Conn, error)
}

// Serve accepts streams until the session ends. ctx is cancelled for the
// handlers when Serve returns, so requests blocked on behalf of a host
// that went away give up.
func (m *Mux) Serve(ctx context.Context, sess Acceptor) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for {
		conn, err := sess.Accept()
		if err != nil {
			return err
		}
		select {
		case m.active <- struct{}{}:
		default:
			slog.Warn("too many active streams, refusing one")
			conn.Close()
			continue
		}
		go func() {
			defer func() { <-m.active }()
			m.ServeStream(ctx, conn)
		}()
	}
}

// ServeStream serves one stream.
func (m *Mux) ServeStream(ctx context.Context, conn net.Conn) {
	keep := false
	defer func() {
		if p := recover(); p != nil {
			slog.Error("panic serving stream", "panic", p, "stack", string(debug.Stack()))
		}
		if !keep {
			conn.Close()
		}
	}()
	conn.SetReadDeadline(time.Now().Add(HeaderTimeout))
	var hdr protocol.StreamHeader
	if err := protocol.ReadFrame(conn, &hdr); err != nil {
		slog.Warn("reading stream header", "err", err)
		return
	}
	switch hdr.Kind {
	case protocol.KindRPC:
		m.serveRPC(ctx, conn, hdr.Method)
	case protocol.KindStdio:
		conn.SetReadDeadline(time.Time{})
		if err := m.addStdio(hdr, conn); err != nil {
			slog.Warn("refusing stdio stream", "container", hdr.Container, "exec", hdr.Exec, "stdio", hdr.Stdio, "err", err)
			return
		}
		keep = true
	case protocol.KindArchive:
		h, ok := m.streams[hdr.Method]
		if !ok {
			slog.Warn("unknown archive method", "method", hdr.Method)
			return
		}
		h(ctx, conn)
	default:
		slog.Warn("unknown stream kind", "kind", hdr.Kind)
	}
}

func (m *Mux) addStdio(hdr protocol.StreamHeader, conn net.Conn) error {
	switch hdr.Stdio {
	case protocol.Stdin, protocol.Stdout, protocol.Stderr:
	default:
		return fmt.Errorf("unknown stdio %q", hdr.Stdio)
	}
	if hdr.Container == "" || hdr.Exec == "" {
		return errors.New("stdio stream without container or exec")
	}
	return m.stdio.Add(stdio.Key{Container: hdr.Container, Exec: hdr.Exec, Stdio: hdr.Stdio}, conn)
}

type afterKey struct{}

type afterReply struct {
	mu  sync.Mutex
	fns []func()
}

// AfterReply schedules fn to run once the response of the current request
// has been written (used by Shutdown, which must answer before it acts).
func AfterReply(ctx context.Context, fn func()) {
	if a, ok := ctx.Value(afterKey{}).(*afterReply); ok {
		a.mu.Lock()
		a.fns = append(a.fns, fn)
		a.mu.Unlock()
	}
}

func (m *Mux) serveRPC(ctx context.Context, conn net.Conn, method string) {
	after := &afterReply{}
	ctx = context.WithValue(ctx, afterKey{}, after)
	result, err := m.call(ctx, conn, method)
	resp := protocol.Response{Error: errs.ToProtocol(err)}
	if err == nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			resp.Error = errs.ToProtocol(errs.Internal("encoding result: %w", merr))
		} else {
			resp.Result = b
		}
	} else if errs.Code(err) == protocol.CodeInternal {
		slog.Warn("request failed", "method", method, "err", err)
	}
	conn.SetWriteDeadline(time.Now().Add(ReplyTimeout))
	if werr := protocol.WriteFrame(conn, resp); werr != nil {
		slog.Warn("writing response", "method", method, "err", werr)
	}
	conn.Close()
	after.mu.Lock()
	fns := after.fns
	after.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// call runs the handler, turning a panic into an internal error.
func (m *Mux) call(ctx context.Context, conn net.Conn, method string) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("panic in handler", "method", method, "panic", p, "stack", string(debug.Stack()))
			err = errs.Internal("%s: internal error: %v", method, p)
		}
	}()
	h, ok := m.handlers[method]
	if !ok {
		return nil, errs.Invalid("unknown method %q", method)
	}
	conn.SetReadDeadline(time.Now().Add(HeaderTimeout))
	return h(ctx, conn)
}
