package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/hyperhq/hyper/internal/api/stdcopy"
	"github.com/hyperhq/hyper/internal/api/types"
)

// AttachOptions select the streams of POST /v1/pods/{id}/attach.
type AttachOptions struct {
	Container string // "" is the pod's first container
	Stdin     bool
	Stdout    bool
	Stderr    bool
}

// Attach is POST /v1/pods/{id}/attach: it returns once the server has
// switched protocols, so attaching before StartPod loses no output.
func (c *Client) Attach(ctx context.Context, id string, o AttachOptions) (*Stream, error) {
	q := url.Values{
		"stdin":  {bit(o.Stdin)},
		"stdout": {bit(o.Stdout)},
		"stderr": {bit(o.Stderr)},
	}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	return c.upgrade(ctx, path("pods", id, "attach"), q)
}

// StartExec is POST /v1/exec/{id}/start: the exec runs while the stream
// is open; stdin says whether this client sends input. Its exit status is
// in InspectExec once the stream has ended.
func (c *Client) StartExec(ctx context.Context, id string, stdin bool) (*Stream, error) {
	q := url.Values{"stdin": {bit(stdin)}, "stdout": {"1"}, "stderr": {"1"}}
	return c.upgrade(ctx, path("exec", id, "start"), q)
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// upgrade sends the request on a connection of its own and, on 101,
// hands that connection over.
func (c *Client) upgrade(ctx context.Context, p string, q url.Values) (*Stream, error) {
	req, err := c.newRequest(ctx, http.MethodPost, p, q, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	// Until the upgrade, ctx's end aborts the handshake.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	br := bufio.NewReader(conn)
	resp, err := func() (*http.Response, error) {
		if err := req.Write(conn); err != nil {
			return nil, err
		}
		return http.ReadResponse(br, req)
	}()
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		c.log.Debug("api call failed", "method", req.Method, "url", req.URL.String(), "err", err)
		return nil, c.transportError(ctx, err)
	}
	c.log.Debug("api call", "method", req.Method, "url", req.URL.String(), "status", resp.StatusCode)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		defer resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil, &Error{StatusCode: resp.StatusCode, Message: "hyperd did not upgrade the connection: " + resp.Status}
		}
		return nil, c.decodeError(resp)
	}
	s := &Stream{
		conn: conn,
		r:    br,
		tty:  resp.Header.Get("Content-Type") == types.MediaTypeRawStream,
	}
	// From now on ctx's end closes the stream.
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	return s, nil
}

// Stream is an upgraded attach or exec connection. Output is raw for a
// terminal (Tty), else stdcopy-framed: use Copy to demultiplex. Writes are
// the process's stdin; CloseWrite is its EOF.
type Stream struct {
	conn net.Conn
	r    *bufio.Reader
	tty  bool
	stop func() bool
}

// Tty reports whether the server streams a terminal (raw output).
func (s *Stream) Tty() bool { return s.tty }

// Read reads the server's raw output (frames included unless Tty). The
// server closing the connection is io.EOF.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	// Linux reports a peer that closed with our input unread as a reset;
	// its output was complete all the same.
	if errors.Is(err, syscall.ECONNRESET) {
		err = io.EOF
	}
	return n, err
}

// Write sends stdin.
func (s *Stream) Write(p []byte) (int, error) { return s.conn.Write(p) }

// CloseWrite half-closes the connection: the process reads EOF on stdin
// and the output keeps coming.
func (s *Stream) CloseWrite() error {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("stream cannot half-close")
}

// Close closes the connection.
func (s *Stream) Close() error {
	s.stop()
	return s.conn.Close()
}

// Copy copies the output until the server closes the stream: with a
// terminal, all of it to stdout; else demultiplexed to stdout and stderr
// (nil discards). A failure the server reported after the stream began is
// returned as *stdcopy.SystemError.
func (s *Stream) Copy(stdout, stderr io.Writer) error {
	if s.tty {
		if stdout == nil {
			stdout = io.Discard
		}
		_, err := io.Copy(stdout, s)
		return err
	}
	_, err := stdcopy.Copy(stdout, stderr, s)
	return err
}
