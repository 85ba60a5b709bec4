package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/api/stdcopy"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// streamOpts are the streams a client asked for.
type streamOpts struct {
	tty                   bool
	stdin, stdout, stderr bool
}

// streamQuery reads stdin/stdout/stderr; with none of them given, output
// (stdout and stderr) is attached.
func streamQuery(q *query) streamOpts {
	o := streamOpts{stdin: q.bool("stdin"), stdout: q.bool("stdout"), stderr: q.bool("stderr")}
	if !q.has("stdin") && !q.has("stdout") && !q.has("stderr") {
		o.stdout, o.stderr = true, true
	}
	return o
}

// streamRequest reads the streams a request asks for and checks that it
// asks for an upgrade; if not, it answers the error and returns false.
func (s *server) streamRequest(w http.ResponseWriter, r *http.Request, q *query) (streamOpts, bool) {
	o := streamQuery(q)
	err := q.err
	if err == nil {
		err = checkUpgrade(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return o, false
	}
	return o, true
}

func (s *server) attachPod(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	container := q.str("container")
	o, ok := s.streamRequest(w, r, q)
	if !ok {
		return
	}
	id := r.PathValue("id")
	pod, err := s.b.Pods.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec, err := findContainer(pod, container)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pod.ID != "" {
		id = pod.ID
	}
	o.tty = spec.Tty
	s.serveStream(w, r, o, func(ctx context.Context, stdio Stdio) error {
		return s.b.Streams.Attach(ctx, id, container, stdio)
	})
}

// findContainer finds a pod's container by name ("" is the first).
func findContainer(pod types.Pod, name string) (types.ContainerSpec, error) {
	if len(pod.Spec.Containers) == 0 {
		return types.ContainerSpec{}, errdefs.NotFound("pod %s has no containers", podName(pod))
	}
	if name == "" {
		return pod.Spec.Containers[0], nil
	}
	for i, c := range pod.Spec.Containers {
		if c.Name == name || (i < len(pod.Containers) && pod.Containers[i].Name == name) {
			return c, nil
		}
	}
	return types.ContainerSpec{}, errdefs.NotFound("pod %s has no container %q", podName(pod), name)
}

func podName(p types.Pod) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

func (s *server) startExec(w http.ResponseWriter, r *http.Request) {
	o, ok := s.streamRequest(w, r, newQuery(r))
	if !ok {
		return
	}
	id := r.PathValue("id")
	info, err := s.b.Execs.InspectExec(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if info.Running {
		s.writeError(w, r, errdefs.Conflict("exec %s is already running", id))
		return
	}
	o.tty = info.Tty
	s.serveStream(w, r, o, func(ctx context.Context, stdio Stdio) error {
		stdio.Attached() // the exec's streams are its own: answered at once
		return s.b.Execs.StartExec(ctx, id, stdio)
	})
}

// checkUpgrade insists on Connection: Upgrade and Upgrade: tcp.
func checkUpgrade(r *http.Request) error {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "tcp") {
		return errdefs.InvalidArgument("this endpoint streams over an upgraded connection: send \"Connection: Upgrade\" and \"Upgrade: tcp\"")
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveStream hijacks the connection, runs fn with the connection as its
// stdio (raw bytes for a terminal, else stdcopy frames out and raw bytes
// in) and answers 101 once fn calls stdio.Attached, or returns. An error from fn is sent last (a system frame, or
// its text for a terminal); then the connection is closed.
func (s *server) serveStream(w http.ResponseWriter, r *http.Request, o streamOpts, fn func(context.Context, Stdio) error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.writeError(w, r, fmt.Errorf("%w: %v", errNotHijackable, err))
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})

	ct := types.MediaTypeMultiplexedStream
	if o.tty {
		ct = types.MediaTypeRawStream
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// A failed write means the client is gone: stop the backend. Writes
	// wait until the upgrade is answered (stdio.Attached).
	out := &cancelWriter{w: conn, cancel: cancel, answered: make(chan struct{}), done: ctx.Done()}
	var answer sync.Once
	answered := func() {
		answer.Do(func() {
			if _, err := fmt.Fprintf(conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", ct); err != nil {
				s.log.Debug("api stream: writing 101", "path", r.URL.Path, "err", err)
				cancel()
			}
			close(out.answered)
		})
	}
	defer answered() // a backend that returned without calling it

	stdio := Stdio{Attached: answered}
	if o.stdin {
		// Read the client's bytes from the raw connection (after what the
		// server already buffered): net/http's own reader cancels the
		// request's context at EOF, and the client's half-close is only
		// the end of stdin, not of the stream.
		var in io.Reader = conn
		if n := brw.Reader.Buffered(); n > 0 {
			b, _ := brw.Reader.Peek(n)
			in = io.MultiReader(bytes.NewReader(append([]byte(nil), b...)), conn)
		}
		stdio.Stdin = &stdinReader{r: in}
	}
	var mux *stdcopy.Mux
	if o.tty {
		stdio.Stdout = discardUnless(o.stdout || o.stderr, out)
	} else {
		mux = stdcopy.NewMux(out)
		stdio.Stdout = discardUnless(o.stdout, mux.Stream(stdcopy.Stdout))
		stdio.Stderr = discardUnless(o.stderr, mux.Stream(stdcopy.Stderr))
	}

	err = fn(ctx, stdio)
	answered()
	if err != nil && ctx.Err() == nil {
		s.log.Debug("api stream failed", "path", r.URL.Path, "err", err)
		if mux != nil {
			_, _ = mux.WriteFrame(stdcopy.System, []byte(err.Error()))
		} else {
			_, _ = fmt.Fprintf(out, "Error: %v\r\n", err)
		}
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func discardUnless(ok bool, w io.Writer) io.Writer {
	if ok {
		return w
	}
	return io.Discard
}

// cancelWriter cancels the stream's context when a write fails.
type cancelWriter struct {
	// mu is held across the write on purpose: it orders the writes of
	// the stream's writers to the connection; nothing else waits on it.
	mu       sync.Mutex
	w        net.Conn
	cancel   context.CancelFunc
	answered chan struct{}   // closed once the upgrade is answered
	done     <-chan struct{} // the stream's end
}

func (c *cancelWriter) Write(p []byte) (int, error) {
	select {
	case <-c.answered:
	case <-c.done:
		return 0, context.Canceled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.w.Write(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}

// stdinReader hands the client's bytes to the backend; the client's
// half-close is its EOF.
type stdinReader struct {
	r io.Reader
}

func (s *stdinReader) Read(p []byte) (int, error) { return s.r.Read(p) }
