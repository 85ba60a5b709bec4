package cli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// runFormat renders rows through --format f as ps does.
func runFormat[T any](t *testing.T, format string, rows []T, headers any) string {
	t.Helper()
	f, err := newFormatter(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeRows(f, &buf, rows, headers); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func psFixture() []psRow {
	a := pod("0123456789abcdef0123", "web", types.StateRunning, 3*time.Minute)
	a.StartedAt = now.Add(-3 * time.Minute)
	a.Spec.Labels = map[string]string{"tier": "fe", "app": "shop"}
	a.Network = types.NetworkBridge
	a.Ports = []types.PortBinding{{ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 8080}}
	b := pod("fedcba9876543210fedc", "job", types.StateExited, time.Hour)
	b.ExitCode, b.FinishedAt = 0, now.Add(-2*time.Second)
	c := pod("aaaabbbbccccddddeeee", "new", types.StateCreated, time.Second)
	return []psRow{newPsRow(a, false, now), newPsRow(b, false, now), newPsRow(c, true, now)}
}

func TestPsDockerFields(t *testing.T) {
	rows := psFixture()
	got := runFormat(t, `{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.RunningFor}}|{{.Status}}|{{.State}}|{{.Ports}}|{{.Labels}}|{{.Label "tier"}}|{{.Networks}}`, rows, psHeaders)
	want := `0123456789ab|web|busybox|"sh -c echo hello wo…"|3 minutes ago|Up 3 minutes|running|0.0.0.0:8080->80/tcp|app=shop,tier=fe|fe|bridge
fedcba987654|job|busybox|"sh -c echo hello wo…"|About an hour ago|Exited (0) 2 seconds ago|exited||||
aaaabbbbccccddddeeee|new|busybox|"sh -c echo hello world; sleep 1000"|1 second ago|Created|created||||
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if rows[0].CreatedAt != rows[0].Created.Local().Format("2006-01-02 15:04:05 -0700 MST") {
		t.Errorf("CreatedAt %q", rows[0].CreatedAt)
	}
	// The API Pod's own fields stay reachable.
	if got := runFormat(t, `{{.Spec.Hostname}}{{.Name}} {{(index .Spec.Containers 0).Image}}`, rows[:1], nil); got != "web busybox\n" {
		t.Errorf("pod fields: %q", got)
	}
}

func TestPsTableFormat(t *testing.T) {
	got := runFormat(t, `table {{.ID}}\t{{.Names}}\t{{.Status}}`, psFixture(), psHeaders)
	want := `POD ID                 NAMES     STATUS
0123456789ab           web       Up 3 minutes
fedcba987654           job       Exited (0) 2 seconds ago
aaaabbbbccccddddeeee   new       Created
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	got = runFormat(t, `table {{.Label "tier"}}\t{{.Name}}`, psFixture()[:1], psHeaders)
	if got != "LABEL     NAME\nfe        web\n" {
		t.Errorf("label table: %q", got)
	}
	// A header the template can't render (a Pod field) is left out.
	got = runFormat(t, `table {{.Spec.Hostname}}{{.Names}}`, psFixture()[:1], psHeaders)
	if got != "web\n" {
		t.Errorf("pod field table: %q", got)
	}
}

func TestPsJSON(t *testing.T) {
	out := runFormat(t, "json", psFixture()[:1], psHeaders)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"ID", "Names", "Image", "Command", "CreatedAt", "RunningFor", "Status", "State", "Ports", "Labels", "Networks", "Size"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json lacks %q: %s", k, out)
		}
	}
	if len(m) != 12 || m["Status"] != "Up 3 minutes" || m["Names"] != "web" {
		t.Errorf("json: %s", out)
	}
}

func TestInspectDockerFields(t *testing.T) {
	p := pod("0123456789abcdef0123", "web", types.StateRunning, 3*time.Minute)
	p.StartedAt = now.Add(-3 * time.Minute)
	p.IPAddress = "10.88.0.5"
	p.Containers = []types.Container{{Image: "docker.io/library/busybox:latest", ImageID: "sha256:abc", Pid: 7, Command: []string{"sleep", "1000"}}}
	p.Ports = []types.PortBinding{{ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 8080}}
	tmpl := `{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.StartedAt}} {{.State.FinishedAt}} {{.Config.Image}} {{.Name}} {{.NetworkSettings.IPAddress}} {{.State}} {{.Id}} {{.Path}} {{.Args}} {{.State.Pid}} {{(index .NetworkSettings.Ports "80/tcp" 0).HostPort}}`
	got := runFormat(t, tmpl, []podInspect{newPodInspect(p)}, nil)
	want := "running true 0 2024-06-01T11:57:00Z 0001-01-01T00:00:00Z busybox web 10.88.0.5 running 0123456789abcdef0123 sleep [1000] 7 8080\n"
	if got != want {
		t.Errorf("running:\n%q\nwant\n%q", got, want)
	}

	p.State, p.ExitCode, p.FinishedAt = types.StateExited, 137, now
	got = runFormat(t, `{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.FinishedAt}} {{.State.Pid}}`, []podInspect{newPodInspect(p)}, nil)
	if got != "exited false 137 2024-06-01T12:00:00Z 0\n" {
		t.Errorf("exited: %q", got)
	}
	p.State, p.Reason = types.StateFailed, "vm died"
	got = runFormat(t, `{{.State.Status}} {{.State.Error}} {{.State}}`, []podInspect{newPodInspect(p)}, nil)
	if got != "exited vm died failed\n" {
		t.Errorf("failed: %q", got)
	}
	c := pod("x", "new", types.StateCreated, time.Second)
	got = runFormat(t, `{{.State.Status}} {{.Path}} {{len .Args}} {{.NetworkSettings.IPAddress}}|`, []podInspect{newPodInspect(c)}, nil)
	if got != "created sh 2 |\n" {
		t.Errorf("created: %q", got)
	}
}
