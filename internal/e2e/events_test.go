package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// eventReader is a `hyperctl events --format json` running beside the
// test, collecting what it prints.
type eventReader struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	evs []types.Event
	bad []string
}

func (h *hyperd) streamEvents(t *testing.T, args ...string) *eventReader {
	t.Helper()
	cmd := exec.Command(h.ctl, append([]string{"-H", "unix://" + h.sock, "events", "--format", "json"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &eventReader{cmd: cmd}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e types.Event
			r.mu.Lock()
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				r.bad = append(r.bad, sc.Text())
			} else {
				r.evs = append(r.evs, e)
			}
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return r
}

func (r *eventReader) events() []types.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]types.Event(nil), r.evs...)
}

// want is an expected event: type, action and the attributes it must
// have ("" for any value).
type want struct {
	typ, action string
	attrs       map[string]string
}

func (w want) String() string { return fmt.Sprintf("%s %s %v", w.typ, w.action, w.attrs) }

func (w want) match(e types.Event) bool {
	if e.Type != w.typ || e.Action != w.action {
		return false
	}
	for k, v := range w.attrs {
		got, ok := e.Actor.Attributes[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}

// inOrder reports the first of wants not found in evs after the ones
// before it (-1: all are there, in order).
func inOrder(evs []types.Event, wants []want) int {
	i := 0
	for _, e := range evs {
		if i < len(wants) && wants[i].match(e) {
			i++
		}
	}
	if i == len(wants) {
		return -1
	}
	return i
}

func describe(evs []types.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s %s %v\n", e.Type, e.Action, shortID(e.Actor.ID), e.Actor.Attributes)
	}
	return b.String()
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// tagUntag tags busybox n times as prefix+i and removes each tag: two
// cheap image events each, no VM.
func (h *hyperd) tagUntag(prefix string, n int) {
	h.t.Helper()
	ctx := h.ctx()
	for i := range n {
		tag := prefix + strconv.Itoa(i)
		if err := h.client.TagImage(ctx, "busybox", tag); err != nil {
			h.t.Fatal(err)
		}
		if err := h.client.RemoveImage(ctx, tag, false); err != nil {
			h.t.Fatal(err)
		}
	}
}

// stalledReader opens GET /v1/events and never reads its answer.
func (h *hyperd) stalledReader(t *testing.T) {
	c, err := net.Dial("unix", h.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET /v1/events HTTP/1.1\r\nHost: hyperd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
}

// TestEvents: `hyperctl events` sees, in order and with docker's
// attributes, what run -d, exec, pause, unpause, kill, stop, rm, load, volume create/rm
// and rename do to real VMs; --since/--until replay them; a reader that
// never reads stalls nobody.
func TestEvents(t *testing.T) {
	h := newHyperd(t)
	begin := time.Now()
	h.stalledReader(t)
	live := h.streamEvents(t)
	time.Sleep(300 * time.Millisecond) // the stream is on

	h.loadBusybox()
	// Enough events to fill the stalled reader's socket: hyperd must not
	// wait for it.
	h.tagUntag("busybox:t", 600)
	start := time.Now()
	web := strings.TrimSpace(h.ok("run", "-d", "--name", "web", "--label", "app=events", "busybox", "sleep", "1000"))
	runTook := time.Since(start)
	if _, errs, code := h.run("", "exec", "web", "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("exec: exit %d: %s", code, errs)
	}
	h.ok("pause", "web")
	h.ok("unpause", "web")
	h.ok("rename", "web", "web2")
	h.ok("kill", "web2")
	h.ok("wait", "web2")
	h.ok("rm", "web2")
	h.ok("run", "-d", "--name", "st", "busybox", "sleep", "1000")
	h.ok("stop", "-t", "1", "st")
	h.ok("rm", "st")
	h.ok("volume", "create", "evvol")
	h.ok("volume", "rm", "evvol")
	h.ok("run", "--rm", "--name", "once", "busybox", "true")
	end := time.Now()

	wants := []want{
		{"image", "load", map[string]string{"name": "busybox:latest"}},
		{"image", "tag", map[string]string{"name": "busybox:t0"}},
		{"image", "untag", map[string]string{"name": "busybox:t0"}},
		{"image", "untag", map[string]string{"name": "busybox:t599"}},
		{"container", "create", map[string]string{"name": "web", "image": "busybox", "app": "events"}},
		{"container", "start", map[string]string{"name": "web", "image": "busybox"}},
		{"container", "exec_create", map[string]string{"name": "web", "execID": "", "command": "sh -c exit 3"}},
		{"container", "exec_start", map[string]string{"name": "web", "execID": ""}},
		{"container", "exec_die", map[string]string{"name": "web", "exitCode": "3"}},
		{"container", "pause", map[string]string{"name": "web"}},
		{"container", "unpause", map[string]string{"name": "web"}},
		{"container", "rename", map[string]string{"name": "web2", "oldName": "web"}},
		{"container", "kill", map[string]string{"name": "web2", "signal": "9"}},
		{"container", "die", map[string]string{"name": "web2", "exitCode": "137", "image": "busybox"}},
		{"container", "destroy", map[string]string{"name": "web2"}},
		{"container", "create", map[string]string{"name": "st"}},
		{"container", "start", map[string]string{"name": "st"}},
		{"container", "die", map[string]string{"name": "st", "exitCode": ""}},
		{"container", "stop", map[string]string{"name": "st"}},
		{"container", "destroy", map[string]string{"name": "st"}},
		{"volume", "create", map[string]string{"driver": "local"}},
		{"volume", "destroy", map[string]string{"driver": "local"}},
		{"container", "create", map[string]string{"name": "once"}},
		{"container", "start", map[string]string{"name": "once"}},
		{"container", "die", map[string]string{"name": "once", "exitCode": "0"}},
		{"container", "destroy", map[string]string{"name": "once"}},
	}
	waitFor(t, 30*time.Second, "the live stream's events", func() bool { return inOrder(live.events(), wants) < 0 })
	evs := live.events()
	for _, e := range evs {
		if e.Scope != "local" || e.TimeNano/1e9 != e.Time || e.Time < begin.Unix()-1 {
			t.Fatalf("event shape: %+v", e)
		}
		if e.Type == "container" && e.Action == "create" && e.Actor.Attributes["name"] == "web" && e.Actor.ID != web {
			t.Errorf("create's actor %s, pod %s", e.Actor.ID, web)
		}
	}
	if len(live.bad) > 0 {
		t.Errorf("lines that are no JSON event: %q", live.bad)
	}
	t.Logf("%d events live; run -d took %v with a stalled reader", len(evs), runTook)

	// Replay: --since and --until in the past end the stream by
	// themselves, with the same events.
	since := strconv.FormatFloat(float64(begin.UnixNano())/1e9, 'f', 9, 64)
	until := end.Add(time.Second).UTC().Format(time.RFC3339Nano)
	out := h.ok("events", "--since", since, "--until", until, "--format", "json")
	var replay []types.Event
	for line := range strings.Lines(out) {
		var e types.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("replay line %q: %v", line, err)
		}
		replay = append(replay, e)
	}
	if i := inOrder(replay, wants); i >= 0 {
		t.Fatalf("replay lacks %v:\n%s", wants[i], describe(replay))
	}
	if len(replay) != len(evs) {
		t.Errorf("replay has %d events, the live stream %d", len(replay), len(evs))
	}

	// Filters and docker's default line format.
	out = h.ok("events", "--since", since, "--until", until, "--filter", "type=container", "--filter", "event=die", "--filter", "pod=web2")
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die ` + web + ` \((.*)\)\n$`)
	m := re.FindStringSubmatch(out)
	if m == nil || m[1] != "app=events, exitCode=137, image=busybox, name=web2" {
		t.Errorf("filtered default format: %q", out)
	}
	if out := h.ok("events", "--since", since, "--until", until, "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}"); out != "create evvol\ndestroy evvol\n" {
		t.Errorf("volume events through a template: %q", out)
	}
	if _, errs, code := h.run("", "events", "--since", "yesterday"); code == 0 || !strings.Contains(errs, "invalid time") {
		t.Errorf("bad --since: exit %d, %q", code, errs)
	}

	// An --until in the future ends the stream then.
	t0 := time.Now()
	h.ok("events", "--until", strconv.FormatInt(t0.Add(2*time.Second).Unix(), 10))
	if d := time.Since(t0); d < 500*time.Millisecond || d > 20*time.Second {
		t.Errorf("--until in one second ended after %v", d)
	}

	// hyperd's stop ends the streams cleanly: hyperctl events exits 0.
	h.cmd.Process.Signal(syscall.SIGTERM)
	h.cmd.Wait()
	ended := make(chan error, 1)
	go func() { ended <- live.cmd.Wait() }()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("hyperctl events at hyperd's stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("hyperctl events still runs after hyperd stopped")
	}
}

// TestEventsLost: a reader that stalls while more events than hyperd
// keeps are published gets, once it reads again, an events-lost event
// with the count, then the newest events.
func TestEventsLost(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	c, err := net.Dial("unix", h.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "GET /v1/events?filters=%%7B%%22type%%22:[%%22image%%22]%%7D HTTP/1.1\r\nHost: hyperd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	const n = 2600 // 5200 events: more than the ring's 4096 beyond what the socket holds
	h.tagUntag("busybox:l", n)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(resp.Body)
	var read int
	for {
		var e types.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("after %d events: %v", read, err)
		}
		read++
		if e.Type == "daemon" {
			lost, _ := strconv.Atoi(e.Actor.Attributes["count"])
			if e.Action != "events-lost" || lost <= 0 {
				t.Fatalf("daemon event: %+v", e)
			}
			t.Logf("events-lost after %d events read: %d lost", read-1, lost)
			if read-1+lost+4096 != 2*n {
				t.Errorf("read %d + lost %d + kept 4096 != published %d", read-1, lost, 2*n)
			}
			break
		}
	}
	var e types.Event
	if err := dec.Decode(&e); err != nil || e.Type != "image" {
		t.Fatalf("after the marker: %+v %v", e, err)
	}
}
