// Package client is the Go client of hyperd's REST API (docs/api.md), used
// by hyperctl and by tests. Non-2xx answers come back as *Error, which
// matches the errdefs kinds with errors.Is (404 is errdefs.ErrNotFound,
// and so on) and carries the server's message.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Client talks to hyperd over its unix socket.
type Client struct {
	socket string
	hc     *http.Client
	log    *slog.Logger
}

// New returns a client of the hyperd listening on socketPath. Nothing is
// dialled until the first call.
func New(socketPath string) *Client {
	c := &Client{socket: socketPath, log: slog.New(slog.DiscardHandler)}
	c.hc = &http.Client{Transport: &http.Transport{
		DialContext:           func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
		DisableCompression:    true,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // wait and logs may take their time
	}}
	return c
}

// SetLogger makes the client log each request at debug level.
func (c *Client) SetLogger(l *slog.Logger) {
	if l != nil {
		c.log = l
	}
}

// SocketPath is the socket the client dials.
func (c *Client) SocketPath() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Error is a non-2xx answer from hyperd.
type Error struct {
	StatusCode int
	Message    string
}

func (e *Error) Error() string { return e.Message }

// Is maps the status code back to its errdefs kind.
func (e *Error) Is(target error) bool {
	switch e.StatusCode {
	case http.StatusNotFound:
		return target == errdefs.ErrNotFound
	case http.StatusBadRequest:
		return target == errdefs.ErrInvalidArgument
	case http.StatusConflict:
		return target == errdefs.ErrConflict
	case http.StatusServiceUnavailable:
		return target == errdefs.ErrUnavailable
	}
	return false
}

// dialError marks failures to reach the daemon at all.
type dialError struct {
	socket string
	err    error
}

func (e *dialError) Error() string {
	hint := ""
	switch {
	case errors.Is(e.err, syscall.ENOENT), errors.Is(e.err, syscall.ECONNREFUSED):
		hint = " (is hyperd running?)"
	case errors.Is(e.err, syscall.EACCES), errors.Is(e.err, syscall.EPERM):
		hint = " (are you root or in the hyper group?)"
	}
	return fmt.Sprintf("cannot connect to hyperd at unix://%s: %v%s", e.socket, unwrapOp(e.err), hint)
}

func (e *dialError) Is(target error) bool { return target == errdefs.ErrUnavailable }
func (e *dialError) Unwrap() error        { return e.err }

func unwrapOp(err error) error {
	var se *net.OpError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err
	}
	return err
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &dialError{socket: c.socket, err: err}
	}
	return conn, nil
}

// path joins escaped segments under /v1.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/" + types.APIVersion)
	for _, s := range segments {
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String()
}

func (c *Client) newRequest(ctx context.Context, method, p string, q url.Values, body io.Reader) (*http.Request, error) {
	u := "http://hyperd" + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return http.NewRequestWithContext(ctx, method, u, body)
}

// do sends a request and returns the response if it is 2xx; otherwise the
// decoded *Error.
func (c *Client) do(ctx context.Context, method, p string, q url.Values, body io.Reader, contentType string) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, p, q, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.Debug("api call failed", "method", method, "url", req.URL.String(), "err", err)
		return nil, transportError(ctx, err)
	}
	c.log.Debug("api call", "method", method, "url", req.URL.String(), "status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// transportError unwraps url.Error and keeps context errors recognizable.
func transportError(ctx context.Context, err error) error {
	var de *dialError
	if errors.As(err, &de) {
		return de
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("talking to hyperd: %w", err)
}

// decodeError turns a non-2xx answer into *Error.
func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e types.Error
	msg := ""
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		msg = e.Message
	} else if s := strings.TrimSpace(string(data)); s != "" {
		msg = fmt.Sprintf("%s: %s", resp.Status, s)
	} else {
		msg = resp.Status
	}
	return &Error{StatusCode: resp.StatusCode, Message: msg}
}

// call sends in (if not nil) as JSON and decodes the answer into out (if
// not nil).
func (c *Client) call(ctx context.Context, method, p string, q url.Values, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(data), "application/json"
	}
	resp, err := c.do(ctx, method, p, q, body, ct)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("decoding hyperd's answer to %s %s: %w", method, p, err)
	}
	return nil
}
