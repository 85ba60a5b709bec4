// Package guest is the host side of the host<->guest protocol (see package
// protocol and docs/protocol.md). It treats the guest as untrusted: every
// message is size-bounded, every call is bounded by its context, and any
// protocol violation ends the session, which the VM layer turns into a
// failed VM.
package guest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Client talks to one guest.
type Client struct {
	sess  *yamux.Session
	hello protocol.Hello
	ylog  *yamuxLog
	once  sync.Once
	err   error // set once the session died
	done  chan struct{}
	// observe, if set, is told of each RPC (observe.go).
	observe Observer
	// paused suspends keepalives: a paused VM cannot answer them.
	paused atomic.Bool
}

// bufConn reads through the buffered reader that consumed the Hello line.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Connect reads the guest's Hello from conn and starts the session. It gives
// up when ctx ends. conn belongs to the Client from then on.
func Connect(ctx context.Context, conn net.Conn, log *slog.Logger) (*Client, error) {
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	r := bufio.NewReaderSize(conn, protocol.MaxHelloSize)
	hello, err := protocol.ReadHello(r)
	if !stop() || ctx.Err() != nil {
		conn.Close()
		return nil, fmt.Errorf("waiting for guest hello: %w", ctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, errdefs.Unavailable("guest channel: %w", err)
	}
	conn.SetReadDeadline(time.Time{})
	cfg := yamux.DefaultConfig()
	cfg.AcceptBacklog = 4
	cfg.EnableKeepAlive = false // keepAlive's own, which a pause suspends
	cfg.ConnectionWriteTimeout = 15 * time.Second
	cfg.StreamOpenTimeout = 15 * time.Second
	cfg.StreamCloseTimeout = 30 * time.Second
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	yl := &yamuxLog{log: log}
	cfg.LogOutput = nil
	cfg.Logger = yl
	sess, err := yamux.Client(bufConn{conn, r}, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("starting guest session: %w", err)
	}
	c := &Client{sess: sess, hello: hello, done: make(chan struct{}), ylog: yl}
	go c.refuseStreams()
	go c.keepAlive(keepAliveInterval)
	return c, nil
}

// refuseStreams ends the session if the guest opens a stream: only the host
// opens streams.
func (c *Client) refuseStreams() {
	s, err := c.sess.AcceptStream()
	if err == nil {
		s.Close()
		c.fail(errors.New("protocol violation: guest opened a stream"))
		return
	}
	<-c.sess.CloseChan()
	if last := c.ylog.last(); last != "" {
		c.fail(fmt.Errorf("guest channel closed: %s", last))
		return
	}
	c.fail(errors.New("guest channel closed"))
}

// yamuxLog keeps yamux's last message: it is the only place yamux says why
// a session ended (e.g. a protocol violation by the guest).
type yamuxLog struct {
	log *slog.Logger
	mu  sync.Mutex
	msg string
}

func (l *yamuxLog) record(s string) {
	s = strings.TrimSpace(s)
	l.log.Debug("yamux", "msg", s)
	l.mu.Lock()
	l.msg = s
	l.mu.Unlock()
}

func (l *yamuxLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}

func (l *yamuxLog) Print(v ...any)                 { l.record(fmt.Sprint(v...)) }
func (l *yamuxLog) Printf(format string, v ...any) { l.record(fmt.Sprintf(format, v...)) }
func (l *yamuxLog) Println(v ...any)               { l.record(fmt.Sprintln(v...)) }

func (c *Client) fail(err error) {
	c.once.Do(func() {
		c.err = err
		c.sess.Close()
		close(c.done)
	})
}

// Hello returns the guest's readiness announcement.
func (c *Client) Hello() protocol.Hello { return c.hello }

// Done is closed when the session has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the session ended, nil while it runs.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the session.
func (c *Client) Close() error {
	c.fail(errors.New("closed by host"))
	return nil
}

// openStream opens a stream, writes its header, and closes the stream when
// ctx ends (which unblocks any read or write on it).
func (c *Client) openStream(ctx context.Context, h protocol.StreamHeader) (*yamux.Stream, func() bool, error) {
	if err := c.Err(); err != nil {
		return nil, nil, errdefs.Unavailable("guest: %w", err)
	}
	s, err := c.sess.OpenStream()
	if err != nil {
		return nil, nil, errdefs.Unavailable("opening guest stream: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { s.Close(); s.SetDeadline(time.Unix(1, 0)) })
	if err := protocol.WriteFrame(s, h); err != nil {
		stop()
		s.Close()
		return nil, nil, errdefs.Unavailable("writing stream header: %w", err)
	}
	return s, stop, nil
}

// request opens a stream of kind for method and sends req on it.
func (c *Client) request(ctx context.Context, kind, method string, req any) (*yamux.Stream, func() bool, error) {
	s, stop, err := c.openStream(ctx, protocol.StreamHeader{Kind: kind, Method: method})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", method, err)
	}
	if err := protocol.WriteFrame(s, req); err != nil {
		stop()
		s.Close()
		return nil, nil, fmt.Errorf("%s: sending request: %w", method, c.ctxErr(ctx, err))
	}
	return s, stop, nil
}

// call runs one RPC: req is sent, the result decoded into res (may be nil).
func (c *Client) call(ctx context.Context, method string, req, res any) (err error) {
	if c.observe != nil {
		start := time.Now()
		defer func() { c.observe(method, time.Since(start), err) }()
	}
	s, stop, err := c.request(ctx, protocol.KindRPC, method, req)
	if err != nil {
		return err
	}
	defer s.Close()
	defer stop()
	var resp protocol.Response
	if err := protocol.ReadFrame(s, &resp); err != nil {
		err = c.ctxErr(ctx, err)
		if ctx.Err() == nil && c.Err() == nil && !errors.Is(err, io.EOF) {
			// A malformed reply is a protocol violation: the guest is
			// not to be trusted any further.
			c.fail(fmt.Errorf("protocol violation in %s reply: %v", method, err))
		}
		return fmt.Errorf("%s: reading reply: %w", method, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("%s: %w", method, mapError(resp.Error))
	}
	if res != nil {
		if err := json.Unmarshal(resp.Result, res); err != nil {
			c.fail(fmt.Errorf("protocol violation in %s result: %v", method, err))
			return fmt.Errorf("%s: decoding result: %w", method, err)
		}
	}
	return nil
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if cerr := c.Err(); cerr != nil {
		return errdefs.Unavailable("guest: %w", cerr)
	}
	return err
}

// mapError turns a guest error into an errdefs kind. The message is the
// guest's, and is shown to users as such.
func mapError(e *protocol.Error) error {
	msg := "guest: " + e.Message
	switch e.Code {
	case protocol.CodeNotFound:
		return errdefs.NotFound("%s", msg)
	case protocol.CodeInvalidArgument:
		return errdefs.InvalidArgument("%s", msg)
	case protocol.CodeConflict:
		return errdefs.Conflict("%s", msg)
	case protocol.CodeUnavailable:
		return errdefs.Unavailable("%s", msg)
	default:
		return errors.New(msg)
	}
}
