package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/api/stdcopy"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/errdefs"
)

type env struct {
	f    *fake
	c    *client.Client
	sock string
	http *http.Client // raw HTTP over the socket
}

// start serves a fake backend on a unix socket in a temp dir.
func start(t *testing.T) *env {
	t.Helper()
	f := &fake{}
	log := slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	sock := apitest.Serve(t, f.backend(), log)
	c := client.New(sock)
	t.Cleanup(func() { c.Close() })
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return &env{f: f, c: c, sock: sock, http: hc}
}

// testWriter writes the server's log to the test's, until the test has
// ended: a handler the server's shutdown left behind may still log.
type testWriter struct {
	t     *testing.T
	mu    sync.Mutex
	ended bool
}

// newTestWriter must be made before the server: its cleanup, which ends
// it, then runs after the server's.
func newTestWriter(t *testing.T) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.ended = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// raw sends a request and returns status and decoded error message.
func (e *env) raw(t *testing.T, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://hyperd"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var apiErr types.Error
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &apiErr); err != nil {
			t.Errorf("%s %s: error body %q is not JSON: %v", method, path, data, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: error Content-Type %q", method, path, ct)
		}
	}
	return resp.StatusCode, apiErr.Message
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestVersionAndInfo(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	v, err := e.c.Version(ctx)
	if err != nil || v.Version != "test" || v.APIVersion != "v1" {
		t.Fatalf("version %+v, %v", v, err)
	}
	info, err := e.c.Info(ctx)
	if err != nil || info.Accel != "tcg" || info.AccelReason == "" || info.Pods != 2 {
		t.Fatalf("info %+v, %v", info, err)
	}
	e.f.info = func(context.Context) (types.Info, error) { return types.Info{}, errdefs.Unavailable("store closed") }
	if _, err := e.c.Info(ctx); !errors.Is(err, errdefs.ErrUnavailable) || err.Error() != "store closed" {
		t.Fatalf("info error %v", err)
	}
}

func TestPodLifecycle(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	spec := types.PodSpec{
		Name: "web", Hostname: "h", VCPUs: 2, MemoryMB: 512, AutoRemove: true,
		Labels: map[string]string{"a": "b"},
		Containers: []types.ContainerSpec{{
			Image: "busybox", Entrypoint: []string{}, Cmd: []string{"echo", "hi"}, Env: []string{"A=1"},
			WorkingDir: "/tmp", User: "nobody", Tty: true, OpenStdin: true,
		}},
	}
	e.f.create = func(_ context.Context, got types.PodSpec) (types.CreateResponse, error) {
		return types.CreateResponse{ID: "abc", Warnings: []string{"w"}}, nil
	}
	res, err := e.c.CreatePod(ctx, spec)
	if err != nil || res.ID != "abc" || len(res.Warnings) != 1 {
		t.Fatalf("create %+v, %v", res, err)
	}
	c, _ := e.f.last("Create")
	got := c.Args[0].(types.PodSpec)
	if !reflect.DeepEqual(got, spec) {
		t.Errorf("backend got spec\n%+v\nwant\n%+v", got, spec)
	}
	if got.Containers[0].Entrypoint == nil {
		t.Errorf("an empty entrypoint (clear the image's) arrived as nil")
	}
	// 201 on the wire.
	status, _ := e.raw(t, "POST", "/v1/pods", "application/json", `{"containers":[{"image":"busybox"}]}`)
	if status != http.StatusCreated {
		t.Errorf("create status %d", status)
	}

	pods, err := e.c.ListPods(ctx, true)
	if err != nil || len(pods) != 1 || pods[0].ID != testPod.ID {
		t.Fatalf("list %+v, %v", pods, err)
	}
	if c, _ := e.f.last("List"); c.Args[0] != true {
		t.Errorf("list all not passed: %v", c.Args)
	}
	if _, err := e.c.ListPods(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.f.last("List"); c.Args[0] != false {
		t.Errorf("list all=false: %v", c.Args)
	}
	e.f.list = func(context.Context, bool) ([]types.Pod, error) { return nil, nil }
	if pods, err := e.c.ListPods(ctx, false); err != nil || pods == nil {
		t.Errorf("empty list should be [] not null: %v %v", pods, err)
	}

	p, err := e.c.GetPod(ctx, "web")
	if err != nil || p.ID != testPod.ID {
		t.Fatalf("get %+v, %v", p, err)
	}
	if _, err := e.c.GetPod(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "no such pod: nope" {
		t.Fatalf("get missing: %v", err)
	}

	if err := e.c.StartPod(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.f.last("Start"); c.Args[0] != "web" {
		t.Errorf("start %v", c.Args)
	}

	for _, tc := range []struct {
		in   time.Duration
		want time.Duration
	}{{-1, -1}, {0, 0}, {3 * time.Second, 3 * time.Second}, {1500 * time.Millisecond, 2 * time.Second}} {
		if err := e.c.StopPod(ctx, "web", tc.in); err != nil {
			t.Fatal(err)
		}
		if c, _ := e.f.last("Stop"); c.Args[1] != tc.want {
			t.Errorf("stop(%v): backend got %v, want %v", tc.in, c.Args[1], tc.want)
		}
	}

	if err := e.c.RenamePod(ctx, "web", "web2"); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.f.last("Rename"); c.Args[0] != "web" || c.Args[1] != "web2" {
		t.Errorf("rename %v", c.Args)
	}
	if err := e.c.RenamePod(ctx, "web", ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("rename without a name: %v", err)
	}

	for sig, want := range map[string]int{"": 9, "TERM": 15, "SIGINT": 2, "hup": 1, "10": 10, "SIGRTMIN+1": 35} {
		if err := e.c.KillPod(ctx, "web", sig); err != nil {
			t.Fatalf("kill %q: %v", sig, err)
		}
		if c, _ := e.f.last("Kill"); c.Args[1] != want {
			t.Errorf("kill %q: backend got %v, want %d", sig, c.Args[1], want)
		}
	}
	if err := e.c.KillPod(ctx, "web", "NOPE"); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "signal") {
		t.Errorf("bad signal: %v", err)
	}

	for _, force := range []bool{false, true} {
		if err := e.c.RemovePod(ctx, "web", force); err != nil {
			t.Fatal(err)
		}
		if c, _ := e.f.last("Remove"); c.Args[1] != force {
			t.Errorf("remove force=%v: %v", force, c.Args)
		}
	}

	if err := e.c.ResizePod(ctx, "web", "main", 40, 120); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.f.last("Resize"); !reflect.DeepEqual(c.Args, []any{"web", "main", uint16(40), uint16(120)}) {
		t.Errorf("resize %v", c.Args)
	}
}

// TestErrorKinds round-trips every kind through status codes.
func TestErrorKinds(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		err    error
		status int
		kind   error
	}{
		{errdefs.NotFound("no such pod: x"), 404, errdefs.ErrNotFound},
		{errdefs.InvalidArgument("bad spec: y"), 400, errdefs.ErrInvalidArgument},
		{errdefs.Conflict("pod x is running"), 409, errdefs.ErrConflict},
		{errdefs.Unavailable("shutting down"), 503, errdefs.ErrUnavailable},
		{fmt.Errorf("starting: %w", errdefs.Conflict("wrapped")), 409, errdefs.ErrConflict},
		{errdefs.Conflict("pod x: %w", errdefs.NotFound("no such container c")), 409, errdefs.ErrConflict},
		{errors.New("disk on fire"), 500, nil},
		{context.Canceled, 499, nil},
	} {
		e.f.start = func(context.Context, string) error { return tc.err }
		err := e.c.StartPod(ctx, "web")
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Fatalf("%v: got %T %v", tc.err, err, err)
		}
		if ce.StatusCode != tc.status || ce.Message != tc.err.Error() {
			t.Errorf("%v: got status %d message %q", tc.err, ce.StatusCode, ce.Message)
		}
		if api.StatusCode(tc.err) != tc.status {
			t.Errorf("StatusCode(%v) = %d", tc.err, api.StatusCode(tc.err))
		}
		for _, k := range []error{errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrUnavailable} {
			if errors.Is(err, k) != (k == tc.kind) {
				t.Errorf("%v: errors.Is(%v) = %v", tc.err, k, errors.Is(err, k))
			}
		}
	}
}

func TestBadRequests(t *testing.T) {
	e := start(t)
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, tc := range []struct {
		method, path, ct, body string
		status                 int
		msg                    string
	}{
		{"POST", "/v1/pods", "application/json", `{"containers":[`, 400, "unexpected end of input"},
		{"POST", "/v1/pods", "application/json", "{\n\"name\": \"a\",,}", 400, "line 2, column 13"},
		{"POST", "/v1/pods", "application/json", `{"containers":[],"bogus":1}`, 400, `unknown field "bogus"`},
		{"POST", "/v1/pods", "application/json", `{"containers":[{"image":"x","tty":"yes"}]}`, 400, "field containers.tty"},
		{"POST", "/v1/pods", "application/json", `{"containers":[]} {}`, 400, "unexpected data after the JSON value"},
		{"POST", "/v1/pods", "application/json", ``, 400, "empty request body"},
		{"POST", "/v1/pods", "text/plain", `{}`, 400, "must be application/json"},
		{"POST", "/v1/pods", "application/json", big, 400, "larger than 1048576 bytes"},
		{"POST", "/v1/pods/web/exec", "", `{"cmd":"ls"}`, 400, "field cmd"},
		{"GET", "/v1/pods?all=maybe", "", "", 400, `all="maybe"`},
		{"POST", "/v1/pods/web/stop?t=-1", "", "", 400, `t="-1"`},
		{"POST", "/v1/pods/web/stop?t=soon", "", "", 400, `t="soon"`},
		{"POST", "/v1/pods/web/kill?signal=SIGFOO", "", "", 400, `signal="SIGFOO"`},
		{"DELETE", "/v1/pods/web?force=2", "", "", 400, `force="2"`},
		{"POST", "/v1/pods/web/resize?h=0&w=80", "", "", 400, `h="0"`},
		{"POST", "/v1/pods/web/resize?h=24", "", "", 400, "w is required"},
		{"POST", "/v1/pods/web/resize?h=24&w=70000", "", "", 400, `w="70000"`},
		{"POST", "/v1/exec/exec1/resize?h=x&w=80", "", "", 400, `h="x"`},
		{"GET", "/v1/pods/web/logs?tail=x", "", "", 400, `tail="x"`},
		{"GET", "/v1/pods/web/logs?since=yesterday", "", "", 400, `since="yesterday"`},
		{"GET", "/v1/pods/web/logs?follow=yes", "", "", 400, `follow="yes"`},
		{"GET", "/v1/images/save", "", "", 400, "names is required"},
		{"GET", "/v1/images/save?names=a&format=zip", "", "", 400, `format="zip"`},
		{"DELETE", "/v1/images/busybox?force=please", "", "", 400, `force="please"`},
		{"POST", "/v1/pods/web/attach", "", "", 400, "Upgrade: tcp"},
		{"POST", "/v1/exec/exec1/start", "", "", 400, "Upgrade: tcp"},
		{"POST", "/v1/pods/web/attach?stdin=perhaps", "", "", 400, `stdin="perhaps"`},
		{"GET", "/v1/nothing", "", "", 404, "no such endpoint"},
		{"PUT", "/v1/pods", "", "", 404, "no such endpoint"},
	} {
		status, msg := e.raw(t, tc.method, tc.path, tc.ct, tc.body)
		if status != tc.status || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s %s %.40q: got %d %q, want %d containing %q", tc.method, tc.path, tc.body, status, msg, tc.status, tc.msg)
		}
	}
	if c, ok := e.f.last("Create"); ok {
		t.Errorf("a bad request reached the backend: %v", c.Method)
	}
}

func TestWaitReadyBeforeBody(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	release := make(chan struct{})
	e.f.wait = func(ctx context.Context, id string, ready func()) (types.WaitResponse, error) {
		ready()
		select {
		case <-release:
			return types.WaitResponse{ExitCode: 3, Reason: "exited"}, nil
		case <-ctx.Done():
			return types.WaitResponse{}, ctx.Err()
		}
	}
	readyc := make(chan struct{})
	type result struct {
		res types.WaitResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.c.Wait(ctx, "web", func() { close(readyc) })
		done <- result{res, err}
	}()
	select {
	case <-readyc:
	case <-time.After(5 * time.Second):
		t.Fatal("ready not called while the backend waits")
	}
	select {
	case r := <-done:
		t.Fatalf("wait returned before the pod exited: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	r := <-done
	if r.err != nil || r.res.ExitCode != 3 || r.res.Reason != "exited" {
		t.Fatalf("wait %+v, %v", r.res, r.err)
	}

	// An error before ready keeps its kind.
	e.f.wait = func(context.Context, string, func()) (types.WaitResponse, error) {
		return types.WaitResponse{}, errdefs.NotFound("no such pod: zz")
	}
	called := false
	if _, err := e.c.Wait(ctx, "zz", func() { called = true }); !errors.Is(err, errdefs.ErrNotFound) || called {
		t.Fatalf("wait missing pod: %v (ready called %v)", err, called)
	}
	// An error after ready is still an error, with its message.
	e.f.wait = func(_ context.Context, _ string, ready func()) (types.WaitResponse, error) {
		ready()
		return types.WaitResponse{}, errors.New("guest vanished")
	}
	if _, err := e.c.Wait(ctx, "web", nil); err == nil || err.Error() != "guest vanished" {
		t.Fatalf("wait error after ready: %v", err)
	}
	// A pod that has already exited answers at once, ready or not.
	e.f.wait = func(context.Context, string, func()) (types.WaitResponse, error) {
		return types.WaitResponse{ExitCode: 7}, nil
	}
	if res, err := e.c.Wait(ctx, "web", nil); err != nil || res.ExitCode != 7 {
		t.Fatalf("wait exited: %+v %v", res, err)
	}
}

func TestWaitCanceledReachesBackend(t *testing.T) {
	e := start(t)
	canceled := make(chan struct{})
	e.f.wait = func(ctx context.Context, _ string, ready func()) (types.WaitResponse, error) {
		ready()
		<-ctx.Done()
		close(canceled)
		return types.WaitResponse{}, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Wait(ctx, "web", cancel)
		done <- err
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("wait: %v", err)
	}
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's wait was not canceled when the client left")
	}
}

// echoAttach writes fixed output, then copies stdin to stdout until EOF.
func echoAttach(stdio api.Stdio) error {
	if _, err := io.WriteString(stdio.Stdout, "out1\n"); err != nil {
		return err
	}
	if stdio.Stderr != nil {
		if _, err := io.WriteString(stdio.Stderr, "err1\n"); err != nil {
			return err
		}
	}
	if stdio.Stdin != nil {
		if _, err := io.Copy(stdio.Stdout, stdio.Stdin); err != nil {
			return err
		}
		_, err := io.WriteString(stdio.Stdout, "<EOF>")
		return err
	}
	return nil
}

func TestAttachMultiplexedWithStdin(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error { return echoAttach(stdio) }
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Container: "main", Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Tty() {
		t.Fatal("non-tty pod streamed as tty")
	}
	if _, err := io.WriteString(s, "hello stdin\n"); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := s.Copy(&out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out1\nhello stdin\n<EOF>" || errb.String() != "err1\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	c, _ := e.f.last("Attach")
	if !reflect.DeepEqual(c.Args, []any{testPod.ID, "main", true, true}) {
		t.Errorf("backend attach args %v (want resolved ID, container, stdin, stderr)", c.Args)
	}
}

func TestAttachNoStdinAndSelectedStreams(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error { return echoAttach(stdio) }
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	if err := s.Copy(&out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out1\n" || errb.Len() != 0 {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	if c, _ := e.f.last("Attach"); c.Args[2] != false {
		t.Errorf("stdin given though not asked for")
	}
}

func TestAttachTTYIsRaw(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	pod := testPod
	pod.Spec.Containers = []types.ContainerSpec{{Name: "main", Image: "busybox", Tty: true, OpenStdin: true}}
	e.f.get = func(context.Context, string) (types.Pod, error) { return pod, nil }
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error {
		if stdio.Stderr != nil {
			return errors.New("stderr given for a terminal")
		}
		// Bytes that would look like a frame header must pass untouched.
		if _, err := stdio.Stdout.Write([]byte{1, 0, 0, 0, 0, 0, 0, 2, 'h', 'i', '\r', '\n'}); err != nil {
			return err
		}
		_, err := io.Copy(stdio.Stdout, stdio.Stdin)
		return err
	}
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Tty() {
		t.Fatal("tty pod not streamed raw")
	}
	io.WriteString(s, "\x03typed")
	s.CloseWrite()
	var out bytes.Buffer
	if err := s.Copy(&out, nil); err != nil {
		t.Fatal(err)
	}
	want := "\x01\x00\x00\x00\x00\x00\x00\x02hi\r\n\x03typed"
	if out.String() != want {
		t.Errorf("raw output %q, want %q", out.String(), want)
	}
}

func TestAttachErrors(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	// Before the upgrade: normal errors with their kinds.
	if _, err := e.c.Attach(ctx, "nope", client.AttachOptions{Stdout: true}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("attach missing pod: %v", err)
	}
	if _, err := e.c.Attach(ctx, "web", client.AttachOptions{Container: "sidecar", Stdout: true}); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "sidecar") {
		t.Errorf("attach missing container: %v", err)
	}
	if _, ok := e.f.last("Attach"); ok {
		t.Error("backend Attach called for a missing pod")
	}
	// After the upgrade: output, then a system frame with the error.
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error {
		io.WriteString(stdio.Stdout, "partial")
		return errdefs.Conflict("container main is gone")
	}
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	err = s.Copy(&out, io.Discard)
	var se *stdcopy.SystemError
	if !errors.As(err, &se) || se.Message != "container main is gone" || out.String() != "partial" {
		t.Errorf("stream error %v, output %q", err, out.String())
	}
}

// TestAttachBeforeStart: the client has its stream before the backend
// produces anything, as run's attach-then-start needs.
func TestAttachBeforeStart(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	started := make(chan struct{})
	e.f.start = func(context.Context, string) error { close(started); return nil }
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error {
		select {
		case <-started:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err := io.WriteString(stdio.Stdout, "first byte on")
		return err
	}
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := e.c.StartPod(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := s.Copy(&out, io.Discard); err != nil || out.String() != "first byte on" {
		t.Fatalf("output %q, %v", out.String(), err)
	}
}

// TestAttachClientGone: a client that leaves cancels the backend's context
// at its next write.
func TestAttachClientGone(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	canceled := make(chan struct{})
	e.f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error {
		for {
			if _, err := io.WriteString(stdio.Stdout, "tick\n"); err != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
				continue
			}
			break
		}
		<-ctx.Done()
		close(canceled)
		return ctx.Err()
	}
	s, err := e.c.Attach(ctx, "web", client.AttachOptions{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("backend not canceled after the client closed")
	}
}

func TestExec(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	spec := types.ExecSpec{Container: "main", Cmd: []string{"cat"}, Env: []string{"X=1"}, WorkingDir: "/w", User: "u", Stdin: true, VM: true}
	res, err := e.c.CreateExec(ctx, "web", spec)
	if err != nil || res.ID != "exec1" {
		t.Fatalf("create exec %+v %v", res, err)
	}
	if c, _ := e.f.last("CreateExec"); c.Args[0] != "web" || !reflect.DeepEqual(c.Args[1], spec) {
		t.Errorf("create exec args %v", c.Args)
	}
	status, _ := e.raw(t, "POST", "/v1/pods/web/exec", "application/json", `{"cmd":["ls"]}`)
	if status != http.StatusCreated {
		t.Errorf("create exec status %d", status)
	}

	exited := false
	e.f.startExec = func(ctx context.Context, id string, stdio api.Stdio) error {
		err := echoAttach(stdio)
		e.f.mu.Lock()
		exited = true
		e.f.mu.Unlock()
		return err
	}
	e.f.inspect = func(ctx context.Context, id string) (types.ExecInfo, error) {
		e.f.mu.Lock()
		defer e.f.mu.Unlock()
		if id != "exec1" {
			return types.ExecInfo{}, errdefs.NotFound("no such exec: %s", id)
		}
		code := 0
		if exited {
			code = 42
		}
		return types.ExecInfo{ID: id, PodID: testPod.ID, ExitCode: code}, nil
	}
	s, err := e.c.StartExec(ctx, "exec1", true)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(s, "to cat")
	s.CloseWrite()
	var out, errb bytes.Buffer
	if err := s.Copy(&out, &errb); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if out.String() != "out1\nto cat<EOF>" || errb.String() != "err1\n" {
		t.Errorf("exec stdout %q stderr %q", out.String(), errb.String())
	}
	info, err := e.c.InspectExec(ctx, "exec1")
	if err != nil || info.ExitCode != 42 {
		t.Errorf("inspect %+v %v", info, err)
	}
	if _, err := e.c.InspectExec(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("inspect missing: %v", err)
	}
	if _, err := e.c.StartExec(ctx, "nope", false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("start missing exec: %v", err)
	}
	if err := e.c.ResizeExec(ctx, "exec1", 10, 20); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.f.last("ResizeExec"); !reflect.DeepEqual(c.Args, []any{"exec1", uint16(10), uint16(20)}) {
		t.Errorf("resize exec %v", c.Args)
	}

	// A running exec cannot be started again.
	e.f.inspect = func(context.Context, string) (types.ExecInfo, error) {
		return types.ExecInfo{ID: "exec1", Running: true}, nil
	}
	if _, err := e.c.StartExec(ctx, "exec1", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("start running exec: %v", err)
	}

	// A terminal exec streams raw, without stdin unless asked.
	e.f.inspect = func(context.Context, string) (types.ExecInfo, error) {
		return types.ExecInfo{ID: "exec1", Tty: true}, nil
	}
	e.f.startExec = func(ctx context.Context, id string, stdio api.Stdio) error {
		if stdio.Stdin != nil || stdio.Stderr != nil {
			return errors.New("unexpected stdin or stderr")
		}
		_, err := io.WriteString(stdio.Stdout, "$ ")
		return err
	}
	s, err = e.c.StartExec(ctx, "exec1", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out.Reset()
	if err := s.Copy(&out, nil); err != nil || !s.Tty() || out.String() != "$ " {
		t.Errorf("tty exec: %q tty=%v %v", out.String(), s.Tty(), err)
	}
}

func TestLogs(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	entries := []types.LogEntry{
		{Container: "main", Stream: "stdout", Time: t0, Log: "one\n"},
		{Container: "main", Stream: "stderr", Time: t0.Add(time.Second), Log: "two\n"},
		{Container: "main", Stream: "stdout", Time: t0.Add(2 * time.Second), Log: "three\n"},
	}
	e.f.logs = func(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error {
		for _, en := range entries {
			if err := fn(en); err != nil {
				return err
			}
		}
		return nil
	}
	var got []types.LogEntry
	o := types.LogOptions{Container: "main", Tail: 5, Since: t0, Timestamps: true}
	if err := e.c.Logs(ctx, "web", o, func(en types.LogEntry) error { got = append(got, en); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got[0].Time.Equal(t0) || got[1].Stream != "stderr" || got[2].Log != "three\n" {
		t.Errorf("entries %+v", got)
	}
	c, _ := e.f.last("Logs")
	gotO := c.Args[1].(types.LogOptions)
	if gotO.Container != "main" || gotO.Tail != 5 || !gotO.Since.Equal(t0) || !gotO.Timestamps || gotO.Follow {
		t.Errorf("backend options %+v", gotO)
	}

	// since as unix seconds.
	if status, msg := e.raw(t, "GET", "/v1/pods/web/logs?since=1704164645.5&tail=all", "", ""); status != 200 {
		t.Fatalf("since unix: %d %s", status, msg)
	}
	c, _ = e.f.last("Logs")
	if gotO := c.Args[1].(types.LogOptions); !gotO.Since.Equal(time.Unix(1704164645, 5e8)) || gotO.Tail != 0 {
		t.Errorf("since unix: %+v", gotO)
	}
	// tail=0: nothing old, so the backend gets Since = now.
	before := time.Now()
	if err := e.c.Logs(ctx, "web", types.LogOptions{Tail: -1}, func(types.LogEntry) error { return nil }); err != nil {
		t.Fatal(err)
	}
	c, _ = e.f.last("Logs")
	if gotO := c.Args[1].(types.LogOptions); gotO.Since.Before(before) || gotO.Tail != 0 {
		t.Errorf("tail 0: %+v", gotO)
	}

	// Errors: before the stream, with kind; after, with message.
	e.f.logs = func(context.Context, string, types.LogOptions, func(types.LogEntry) error) error {
		return errdefs.NotFound("no such pod: x")
	}
	if err := e.c.Logs(ctx, "x", types.LogOptions{}, func(types.LogEntry) error { return nil }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("logs missing pod: %v", err)
	}
	e.f.logs = func(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error {
		fn(entries[0])
		return errors.New("log file\ntruncated")
	}
	n := 0
	err := e.c.Logs(ctx, "web", types.LogOptions{}, func(types.LogEntry) error { n++; return nil })
	if err == nil || err.Error() != "log file truncated" || n != 1 {
		t.Errorf("logs failing midway: %v after %d entries", err, n)
	}
	// An error from the callback stops the stream.
	e.f.logs = func(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error {
		for _, en := range entries {
			if err := fn(en); err != nil {
				return err
			}
		}
		return nil
	}
	stop := errors.New("enough")
	if err := e.c.Logs(ctx, "web", types.LogOptions{}, func(types.LogEntry) error { return stop }); err != stop {
		t.Errorf("callback error: %v", err)
	}
}

// TestLogsFollowStreams: each entry reaches the client as it is produced.
func TestLogsFollowStreams(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	next := make(chan struct{})
	e.f.logs = func(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error {
		if !o.Follow {
			return errors.New("follow not set")
		}
		for i := range 3 {
			if err := fn(types.LogEntry{Stream: "stdout", Log: fmt.Sprintf("line %d\n", i)}); err != nil {
				return err
			}
			select {
			case <-next:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	got := make(chan string, 3)
	done := make(chan error, 1)
	go func() {
		done <- e.c.Logs(ctx, "web", types.LogOptions{Follow: true}, func(en types.LogEntry) error {
			got <- en.Log
			return nil
		})
	}()
	for i := range 3 {
		select {
		case l := <-got:
			if l != fmt.Sprintf("line %d\n", i) {
				t.Errorf("got %q", l)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("entry %d not streamed before the next one was produced", i)
		}
		next <- struct{}{}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestImages(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	img := types.Image{ID: "sha256:" + strings.Repeat("ab", 32), Names: []string{"docker.io/library/busybox:latest"}, Size: 1234, Created: time.Unix(1700000000, 0).UTC()}
	e.f.images = func(context.Context) ([]types.Image, error) { return []types.Image{img}, nil }
	imgs, err := e.c.ListImages(ctx)
	if err != nil || len(imgs) != 1 || !reflect.DeepEqual(imgs[0], img) {
		t.Fatalf("images %+v %v", imgs, err)
	}

	// Load streams a body far over the JSON limit.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	e.f.load = func(ctx context.Context, r io.Reader) ([]types.Image, error) {
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			return nil, err
		}
		if n != int64(len(payload)) || !bytes.Equal(h.Sum(nil), sha(payload)) {
			return nil, errdefs.InvalidArgument("got %d bytes, corrupted", n)
		}
		return []types.Image{img}, nil
	}
	loaded, err := e.c.LoadImages(ctx, bytes.NewReader(payload))
	if err != nil || len(loaded) != 1 || loaded[0].ID != img.ID {
		t.Fatalf("load %+v %v", loaded, err)
	}
	e.f.load = func(ctx context.Context, r io.Reader) ([]types.Image, error) {
		return nil, errdefs.InvalidArgument("not a tar archive")
	}
	if _, err := e.c.LoadImages(ctx, bytes.NewReader(payload)); !errors.Is(err, errdefs.ErrInvalidArgument) || err.Error() != "not a tar archive" {
		t.Fatalf("load error: %v", err)
	}

	// Save streams its tar back.
	e.f.save = func(ctx context.Context, w io.Writer, refs []string, format string) error {
		if !reflect.DeepEqual(refs, []string{"busybox", "docker.io/x/y:1"}) || format != "oci" {
			return errdefs.InvalidArgument("refs %v format %q", refs, format)
		}
		for i := 0; i < len(payload); i += 100000 {
			if _, err := w.Write(payload[i:min(i+100000, len(payload))]); err != nil {
				return err
			}
		}
		return nil
	}
	rc, err := e.c.SaveImages(ctx, []string{"busybox", "docker.io/x/y:1"}, "oci")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(data, payload) {
		t.Fatalf("save: %d bytes, %v", len(data), err)
	}
	if c, _ := e.f.last("Save"); c.Args[1] != "oci" {
		t.Errorf("save format %v", c.Args)
	}
	if _, err := e.c.SaveImages(ctx, []string{"busybox"}, ""); err != nil {
		// the fake refuses: a normal error before the stream began
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("save error before stream: %v", err)
		}
	} else {
		t.Error("save: expected an error for the wrong refs")
	}
	if c, _ := e.f.last("Save"); c.Args[1] != "docker" {
		t.Errorf("save default format %v", c.Args)
	}
	e.f.save = func(ctx context.Context, w io.Writer, refs []string, format string) error {
		w.Write(payload[:50000])
		return errors.New("blob missing")
	}
	rc, err = e.c.SaveImages(ctx, []string{"busybox"}, "docker")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if err == nil || err.Error() != "blob missing" {
		t.Errorf("save failing midway: %v", err)
	}

	// Remove: refs with '/', ':' and '@'.
	for _, ref := range []string{"busybox", "docker.io/library/busybox:latest", "sha256:abcd", "reg:5000/a/b@sha256:00ff"} {
		for _, force := range []bool{false, true} {
			if err := e.c.RemoveImage(ctx, ref, force); err != nil {
				t.Fatalf("rmi %s: %v", ref, err)
			}
			if c, _ := e.f.last("Rmi"); c.Args[0] != ref || c.Args[1] != force {
				t.Errorf("rmi %s force=%v: backend got %v", ref, force, c.Args)
			}
		}
	}
	e.f.rmi = func(context.Context, string, bool) error { return errdefs.Conflict("image is used by pod web") }
	if err := e.c.RemoveImage(ctx, "busybox", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("rmi conflict: %v", err)
	}
}

func sha(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func TestClientCannotConnect(t *testing.T) {
	c := client.New(filepath.Join(t.TempDir(), "none.sock"))
	_, err := c.Version(ctxT(t))
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "is hyperd running?") {
		t.Fatalf("got %v", err)
	}
	if _, err := c.Attach(ctxT(t), "x", client.AttachOptions{}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("attach: %v", err)
	}
}

func TestListen(t *testing.T) {
	dir, err := os.MkdirTemp("", "hlisten")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "a", "b.sock")
	l, err := api.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
	// A live server is not replaced.
	if _, err := api.Listen(sock); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second listen: %v", err)
	}
	// A stale socket is.
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	l.Close()
	l2, err := api.Listen(sock)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	l2.Close()
	// A file that is not a socket is left alone.
	os.WriteFile(sock, []byte("x"), 0o644)
	if _, err := api.Listen(sock); err == nil {
		t.Error("listened over a regular file")
	}
}
