package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// Version is GET /v1/version.
func (c *Client) Version(ctx context.Context) (types.Version, error) {
	var v types.Version
	err := c.call(ctx, http.MethodGet, path("version"), nil, nil, &v)
	return v, err
}

// Info is GET /v1/info.
func (c *Client) Info(ctx context.Context) (types.Info, error) {
	var v types.Info
	err := c.call(ctx, http.MethodGet, path("info"), nil, nil, &v)
	return v, err
}

// CreatePod is POST /v1/pods.
func (c *Client) CreatePod(ctx context.Context, spec types.PodSpec) (types.CreateResponse, error) {
	var v types.CreateResponse
	err := c.call(ctx, http.MethodPost, path("pods"), nil, spec, &v)
	return v, err
}

// ListPods is GET /v1/pods; all includes pods that are not running.
func (c *Client) ListPods(ctx context.Context, all bool) ([]types.Pod, error) {
	var v []types.Pod
	err := c.call(ctx, http.MethodGet, path("pods"), flag("all", all), nil, &v)
	return v, err
}

// GetPod is GET /v1/pods/{id}; id may be a name or a unique ID prefix.
func (c *Client) GetPod(ctx context.Context, id string) (types.Pod, error) {
	var v types.Pod
	err := c.call(ctx, http.MethodGet, path("pods", id), nil, nil, &v)
	return v, err
}

// StartPod is POST /v1/pods/{id}/start.
func (c *Client) StartPod(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, path("pods", id, "start"), nil, nil, nil)
}

// StopPod is POST /v1/pods/{id}/stop: a negative timeout leaves the grace
// period to the server (10 s); it is sent in whole seconds.
func (c *Client) StopPod(ctx context.Context, id string, timeout time.Duration) error {
	var q url.Values
	if timeout >= 0 {
		q = url.Values{"t": {strconv.FormatInt(int64((timeout+time.Second-1)/time.Second), 10)}}
	}
	return c.call(ctx, http.MethodPost, path("pods", id, "stop"), q, nil, nil)
}

// KillPod is POST /v1/pods/{id}/kill with a signal name or number ("" is
// SIGKILL).
func (c *Client) KillPod(ctx context.Context, id, signal string) error {
	var q url.Values
	if signal != "" {
		q = url.Values{"signal": {signal}}
	}
	return c.call(ctx, http.MethodPost, path("pods", id, "kill"), q, nil, nil)
}

// RemovePod is DELETE /v1/pods/{id}.
func (c *Client) RemovePod(ctx context.Context, id string, force bool) error {
	return c.call(ctx, http.MethodDelete, path("pods", id), flag("force", force), nil, nil)
}

// RenamePod is POST /v1/pods/{id}/rename?name=NAME.
func (c *Client) RenamePod(ctx context.Context, id, name string) error {
	return c.call(ctx, http.MethodPost, path("pods", id, "rename"), url.Values{"name": {name}}, nil, nil)
}

// Wait is POST /v1/pods/{id}/wait. ready (if not nil) is called as soon as
// the server has registered the waiter, so a caller may start the pod then
// without missing its exit. A failure reported after that comes back as an
// error (the response carries no kind then).
func (c *Client) Wait(ctx context.Context, id string, ready func()) (types.WaitResponse, error) {
	var v types.WaitResponse
	resp, err := c.do(ctx, http.MethodPost, path("pods", id, "wait"), nil, nil, "")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if ready != nil {
		ready()
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		return v, fmt.Errorf("waiting for pod %s: %w", id, unexpectedEOF(err))
	}
	if v.Error != nil {
		return v, &Error{StatusCode: http.StatusInternalServerError, Message: v.Error.Message}
	}
	return v, nil
}

// ResizePod is POST /v1/pods/{id}/resize: a container's terminal size.
func (c *Client) ResizePod(ctx context.Context, id, container string, height, width uint16) error {
	q := url.Values{"h": {strconv.Itoa(int(height))}, "w": {strconv.Itoa(int(width))}}
	if container != "" {
		q.Set("container", container)
	}
	return c.call(ctx, http.MethodPost, path("pods", id, "resize"), q, nil, nil)
}

// Logs is GET /v1/pods/{id}/logs: fn gets each entry in order; an error
// from fn stops the stream and is returned. o.Tail > 0 is the last N
// entries, 0 all of them, and < 0 none (with Follow: only new ones).
func (c *Client) Logs(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error {
	q := url.Values{}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	if o.Follow {
		q.Set("follow", "1")
	}
	switch {
	case o.Tail > 0:
		q.Set("tail", strconv.Itoa(o.Tail))
	case o.Tail < 0:
		q.Set("tail", "0")
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.Format(time.RFC3339Nano))
	}
	if o.Timestamps {
		q.Set("timestamps", "1")
	}
	resp, err := c.do(ctx, http.MethodGet, path("pods", id, "logs"), q, nil, "")
	if err != nil {
		return err
	}
	return decodeStream(ctx, resp, "logs of "+id, fn)
}

// decodeStream reads an NDJSON answer into fn, one value a line, until
// its end (the Hyper-Error trailer's error, if any) or fn's error.
func decodeStream[T any](ctx context.Context, resp *http.Response, what string, fn func(T) error) error {
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			if err == io.EOF {
				return trailerError(resp)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading %s: %w", what, unexpectedEOF(err))
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// CreateExec is POST /v1/pods/{id}/exec.
func (c *Client) CreateExec(ctx context.Context, pod string, spec types.ExecSpec) (types.CreateResponse, error) {
	var v types.CreateResponse
	err := c.call(ctx, http.MethodPost, path("pods", pod, "exec"), nil, spec, &v)
	return v, err
}

// ResizeExec is POST /v1/exec/{id}/resize.
func (c *Client) ResizeExec(ctx context.Context, id string, height, width uint16) error {
	q := url.Values{"h": {strconv.Itoa(int(height))}, "w": {strconv.Itoa(int(width))}}
	return c.call(ctx, http.MethodPost, path("exec", id, "resize"), q, nil, nil)
}

// InspectExec is GET /v1/exec/{id}.
func (c *Client) InspectExec(ctx context.Context, id string) (types.ExecInfo, error) {
	var v types.ExecInfo
	err := c.call(ctx, http.MethodGet, path("exec", id), nil, nil, &v)
	return v, err
}

// ListImages is GET /v1/images.
func (c *Client) ListImages(ctx context.Context) ([]types.Image, error) {
	var v []types.Image
	err := c.call(ctx, http.MethodGet, path("images"), nil, nil, &v)
	return v, err
}

// LoadImages is POST /v1/images/load: r is a docker-save or OCI tar,
// streamed as it is read.
func (c *Client) LoadImages(ctx context.Context, r io.Reader) ([]types.Image, error) {
	resp, err := c.do(ctx, http.MethodPost, path("images", "load"), nil, io.NopCloser(r), "application/x-tar")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v types.LoadResponse
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding hyperd's answer to image load: %w", err)
	}
	return v.Images, nil
}

// SaveImages is GET /v1/images/save: the tar of names, in format "docker"
// ("" too) or "oci". Read the result to its end: a failure after the
// stream began is reported by its last Read, never as a clean EOF.
func (c *Client) SaveImages(ctx context.Context, names []string, format string) (io.ReadCloser, error) {
	q := url.Values{"names": names}
	if format != "" {
		q.Set("format", format)
	}
	resp, err := c.do(ctx, http.MethodGet, path("images", "save"), q, nil, "")
	if err != nil {
		return nil, err
	}
	return &trailerReader{resp: resp}, nil
}

// RemoveImage is DELETE /v1/images/{ref}; ref may contain '/' and ':'.
func (c *Client) RemoveImage(ctx context.Context, ref string, force bool) error {
	segs := strings.Split(ref, "/")
	return c.call(ctx, http.MethodDelete, path(append([]string{"images"}, segs...)...), flag("force", force), nil, nil)
}

func flag(name string, v bool) url.Values {
	if !v {
		return nil
	}
	return url.Values{name: {"1"}}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// trailerError reports the Hyper-Error trailer of a body read to its end.
func trailerError(resp *http.Response) error {
	if msg := resp.Trailer.Get(types.HeaderError); msg != "" {
		return &Error{StatusCode: http.StatusInternalServerError, Message: msg}
	}
	return nil
}

// trailerReader turns a Hyper-Error trailer into the error of the last
// Read.
type trailerReader struct {
	resp *http.Response
}

func (t *trailerReader) Read(p []byte) (int, error) {
	n, err := t.resp.Body.Read(p)
	if errors.Is(err, io.EOF) {
		if terr := trailerError(t.resp); terr != nil {
			return n, terr
		}
	}
	return n, err
}

func (t *trailerReader) Close() error { return t.resp.Body.Close() }
