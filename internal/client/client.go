// Package client is the Go client of hyperd's REST API (docs/api.md), used
// by hyperctl and by tests. Non-2xx answers come back as *Error, which
// matches the errdefs kinds with errors.Is (404 is errdefs.ErrNotFound,
// and so on) and carries the server's message.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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
	"github.com/hyperhq/hyper/internal/endpoint"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Client talks to hyperd over its unix socket, or over TCP with TLS.
type Client struct {
	host endpoint.Host
	tls  *tls.Config
	hc   *http.Client
	log  *slog.Logger
}

// New returns a client of the hyperd listening on the unix socket
// socketPath. Nothing is dialled until the first call.
func New(socketPath string) *Client {
	return NewHost(endpoint.Host{Network: endpoint.Unix, Address: socketPath}, nil)
}

// NewHost returns a client of the hyperd at host. With tlsConfig (see
// endpoint.ClientConfig) every connection, upgraded streams included, is
// TLS; HTTP runs inside it as on the socket.
func NewHost(host endpoint.Host, tlsConfig *tls.Config) *Client {
	c := &Client{host: host, tls: tlsConfig, log: slog.New(slog.DiscardHandler)}
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

// Host is where the client dials.
func (c *Client) Host() endpoint.Host { return c.host }

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
	host endpoint.Host
	err  error
}

func (e *dialError) Error() string {
	hint := ""
	var unknownCA x509.UnknownAuthorityError
	var badName x509.HostnameError
	switch {
	case errors.Is(e.err, syscall.ENOENT), errors.Is(e.err, syscall.ECONNREFUSED):
		hint = " (is hyperd running?)"
	case errors.Is(e.err, syscall.EACCES), errors.Is(e.err, syscall.EPERM):
		hint = " (are you root or in the hyper group?)"
	case errors.Is(e.err, errTLSPort):
		hint = " (use --tlsverify, or HYPER_TLS_VERIFY=1)"
	case errors.As(e.err, &unknownCA):
		hint = " (hyperd's certificate is not signed by --tlscacert)"
	case errors.As(e.err, &badName):
		hint = " (hyperd's certificate does not name the host of -H)"
	case isTLSAlert(e.err), errors.As(e.err, new(*tls.CertificateVerificationError)):
		hint = " (check --tlscacert, --tlscert and --tlskey)"
	}
	return fmt.Sprintf("cannot connect to hyperd at %s: %v%s", e.host, unwrapOp(e.err), hint)
}

func (e *dialError) Is(target error) bool { return target == errdefs.ErrUnavailable }
func (e *dialError) Unwrap() error        { return e.err }

// isTLSAlert reports whether the peer refused the TLS session: under TLS
// 1.3 a server that refuses the client's certificate says so after the
// client's handshake is done, at the first read.
func isTLSAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

func unwrapOp(err error) error {
	var se *net.OpError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err
	}
	return err
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.host.Network, c.host.Address)
	if err == nil && c.tls != nil {
		tc := tls.Client(conn, c.tls)
		if err = tc.HandshakeContext(ctx); err != nil {
			conn.Close()
		}
		conn = tc
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &dialError{host: c.host, err: err}
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
		return nil, c.transportError(ctx, err)
	}
	c.log.Debug("api call", "method", method, "url", req.URL.String(), "status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, c.decodeError(resp)
	}
	return resp, nil
}

// transportError unwraps url.Error and keeps context errors recognizable;
// a refused TLS session is a failure to reach hyperd.
func (c *Client) transportError(ctx context.Context, err error) error {
	var de *dialError
	if errors.As(err, &de) {
		return de
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if c.tls != nil && isTLSAlert(err) {
		return &dialError{host: c.host, err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("talking to hyperd: %w", err)
}

// errTLSPort: plain HTTP reached a TLS port. hyperd answers HTTP/1.1;
// only Go's TLS server, seeing plain HTTP, answers HTTP/1.0 (a 400).
var errTLSPort = errors.New("the port speaks TLS and this client does not")

// decodeError turns a non-2xx answer into *Error.
func (c *Client) decodeError(resp *http.Response) error {
	if c.tls == nil && c.host.Network == endpoint.TCP && !resp.ProtoAtLeast(1, 1) {
		return &dialError{host: c.host, err: errTLSPort}
	}
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
