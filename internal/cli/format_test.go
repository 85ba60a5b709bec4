package cli

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "Less than a second",
		time.Second:              "1 second",
		45 * time.Second:         "45 seconds",
		90 * time.Second:         "About a minute",
		2 * time.Minute:          "2 minutes",
		59 * time.Minute:         "59 minutes",
		70 * time.Minute:         "About an hour",
		5 * time.Hour:            "5 hours",
		47 * time.Hour:           "47 hours",
		3 * 24 * time.Hour:       "3 days",
		15 * 24 * time.Hour:      "2 weeks",
		90 * 24 * time.Hour:      "3 months",
		3 * 365 * 24 * time.Hour: "3 years",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1234567: "1.235MB", 4_400_000: "4.4MB", 5_000_000_000: "5GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:latest":    "busybox:latest",
		"docker.io/library/a/b:1":             "library/a/b:1",
		"docker.io/user/app:v2":               "user/app:v2",
		"quay.io/x/y:z":                       "quay.io/x/y:z",
		"docker.io/library/busybox@sha256:ab": "busybox@sha256:ab",
	} {
		if got := familiarName(in); got != want {
			t.Errorf("familiarName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string][2]string{
		"busybox:latest":        {"busybox", "latest"},
		"reg:5000/app":          {"reg:5000/app", "<none>"},
		"reg:5000/app:1.0":      {"reg:5000/app", "1.0"},
		"busybox@sha256:abcdef": {"busybox", "<none>"},
	} {
		if r, tag := splitRepoTag(in); r != want[0] || tag != want[1] {
			t.Errorf("splitRepoTag(%q) = %q %q", in, r, tag)
		}
	}
	for in, want := range map[string]string{
		"busybox":               "docker.io/library/busybox:latest",
		"busybox:1.36":          "docker.io/library/busybox:1.36",
		"user/app":              "docker.io/user/app:latest",
		"index.docker.io/x/y":   "docker.io/x/y:latest",
		"localhost/app":         "localhost/app:latest",
		"reg:5000/a/b:c":        "reg:5000/a/b:c",
		"quay.io/a/b@sha256:00": "quay.io/a/b@sha256:00",
	} {
		if got := normalizeImageName(in); got != want {
			t.Errorf("normalizeImageName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ellipsis("sh -c 'echo hello world'", 20); got != "sh -c 'echo hello w…" || len([]rune(got)) != 20 {
		t.Errorf("ellipsis: %q", got)
	}
	if shortID("sha256:0123456789abcdef") != "0123456789ab" || shortID("abc") != "abc" {
		t.Error("shortID")
	}
}

func TestFindImage(t *testing.T) {
	imgs := []types.Image{
		{ID: "sha256:aaaa1111", Names: []string{"docker.io/library/busybox:latest"}},
		{ID: "sha256:aaaa2222", Names: []string{"quay.io/x/y:1"}},
	}
	for ref, want := range map[string]string{
		"busybox": "sha256:aaaa1111", "busybox:latest": "sha256:aaaa1111", "quay.io/x/y:1": "sha256:aaaa2222",
		"aaaa2": "sha256:aaaa2222", "sha256:aaaa1111": "sha256:aaaa1111",
	} {
		if img, err := findImage(imgs, ref); err != nil || img.ID != want {
			t.Errorf("findImage(%q) = %v, %v", ref, img.ID, err)
		}
	}
	for _, ref := range []string{"aaaa", "nginx", "quay.io/x/y"} {
		if img, err := findImage(imgs, ref); err == nil {
			t.Errorf("findImage(%q) = %v, want an error", ref, img.ID)
		}
	}
}

var now = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func pod(id, name, state string, created time.Duration) types.Pod {
	return types.Pod{
		ID: id, Name: name, State: state, Created: now.Add(-created),
		Spec: types.PodSpec{Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"sh", "-c", "echo hello world; sleep 1000"}}}},
	}
}

func TestPodStatus(t *testing.T) {
	p := pod("a", "n", types.StateRunning, time.Hour)
	p.StartedAt = now.Add(-3 * time.Minute)
	if s := podStatus(p, now); s != "Up 3 minutes" {
		t.Errorf("running: %q", s)
	}
	p.State, p.ExitCode, p.FinishedAt = types.StateExited, 0, now.Add(-5*time.Second)
	if s := podStatus(p, now); s != "Exited (0) 5 seconds ago" {
		t.Errorf("exited: %q", s)
	}
	p.ExitCode = 137
	if s := podStatus(p, now); s != "Exited (137) 5 seconds ago" {
		t.Errorf("exited 137: %q", s)
	}
	p.State = types.StateCreated
	if s := podStatus(p, now); s != "Created" {
		t.Errorf("created: %q", s)
	}
	p.State, p.Reason = types.StateFailed, "guest channel closed"
	if s := podStatus(p, now); s != "Failed: guest channel closed" {
		t.Errorf("failed: %q", s)
	}
}

func TestPodsTable(t *testing.T) {
	a := pod("0123456789abcdef0123", "web", types.StateRunning, 2*time.Minute)
	a.StartedAt = now.Add(-time.Minute)
	b := pod("fedcba9876543210fedc", "batch-job-with-long-name", types.StateExited, 3*time.Hour)
	b.ExitCode, b.FinishedAt = 1, now.Add(-2*time.Hour)
	b.Containers = []types.Container{{Image: "docker.io/library/alpine:3.19", Command: []string{"true"}}}
	var buf bytes.Buffer
	if err := writePods(&buf, []types.Pod{b, a}, false, now); err != nil {
		t.Fatal(err)
	}
	want := `POD ID         NAME                       IMAGE         COMMAND                  CREATED         STATUS
0123456789ab   web                        busybox       "sh -c echo hello wo…"   2 minutes ago   Up About a minute
fedcba987654   batch-job-with-long-name   alpine:3.19   "true"                   3 hours ago     Exited (1) 2 hours ago
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	writePods(&buf, []types.Pod{a}, true, now)
	if !strings.Contains(buf.String(), "0123456789abcdef0123") || !strings.Contains(buf.String(), `"sh -c echo hello world; sleep 1000"`) {
		t.Errorf("--no-trunc:\n%s", buf.String())
	}
}

func TestImagesTable(t *testing.T) {
	imgs := []types.Image{
		{ID: "sha256:" + strings.Repeat("1", 64), Names: []string{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"}, Size: 4_400_000, Created: now.Add(-48 * time.Hour)},
		{ID: "sha256:" + strings.Repeat("2", 64), Size: 123, Created: now.Add(-time.Hour)},
	}
	var buf bytes.Buffer
	if err := writeImages(&buf, imgs, false, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("table:\n%s", buf.String())
	}
	for i, wantFields := range [][]string{
		{"REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"},
		{"<none>", "<none>", "222222222222", "About", "an", "hour", "ago", "123B"},
		{"busybox", "latest", "111111111111", "2", "days", "ago", "4.4MB"},
		{"busybox", "1.36", "111111111111", "2", "days", "ago", "4.4MB"},
	} {
		if got := strings.Fields(lines[i]); !reflect.DeepEqual(got, wantFields) {
			t.Errorf("line %d: %q, want fields %q", i, lines[i], wantFields)
		}
	}
	// Columns line up.
	at := strings.Index(lines[0], "IMAGE ID")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[at:], "1") && !strings.HasPrefix(l[at:], "2") {
			t.Errorf("IMAGE ID column misaligned:\n%s", buf.String())
		}
	}
}

// TestRunCommandLine: flags stop at IMAGE; the rest is the command.
func TestRunCommandLine(t *testing.T) {
	t.Setenv("FROM_HOST", "hv")
	o := &runOptions{}
	cmd := &cobra.Command{Use: "run"}
	addRunFlags(cmd, o)
	args := []string{"-d", "--rm", "--name", "web", "-e", "A=1", "-e", "FROM_HOST", "--memory", "1g", "--cpus", "1.5",
		"-w", "/srv", "-u", "nobody", "--label", "tier=fe", "-it", "--hostname", "h1",
		"busybox", "sh", "-c", "echo -e hi", "--rm", "-d", "--name", "x"}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	rest := cmd.Flags().Args()
	if rest[0] != "busybox" {
		t.Fatalf("image %q", rest[0])
	}
	spec, err := o.podSpec(rest[0], rest[1:])
	if err != nil {
		t.Fatal(err)
	}
	want := types.PodSpec{
		Name: "web", Hostname: "h1", VCPUs: 2, MemoryMB: 1024, AutoRemove: true,
		Labels: map[string]string{"tier": "fe"},
		Containers: []types.ContainerSpec{{
			Image: "busybox", Cmd: []string{"sh", "-c", "echo -e hi", "--rm", "-d", "--name", "x"},
			Env: []string{"A=1", "FROM_HOST=hv"}, WorkingDir: "/srv", User: "nobody", Tty: true, OpenStdin: true,
		}},
	}
	if !reflect.DeepEqual(spec, want) || !o.detach {
		t.Errorf("spec\n%+v\nwant\n%+v", spec, want)
	}

	// --entrypoint "" clears the image's; no CMD keeps the image's.
	o = &runOptions{}
	cmd = &cobra.Command{Use: "run"}
	addRunFlags(cmd, o)
	if err := cmd.ParseFlags([]string{"--entrypoint", "", "alpine"}); err != nil {
		t.Fatal(err)
	}
	o.entrySet = cmd.Flags().Changed("entrypoint")
	spec, err = o.podSpec("alpine", nil)
	if err != nil || spec.Containers[0].Entrypoint == nil || len(spec.Containers[0].Entrypoint) != 0 || spec.Containers[0].Cmd != nil {
		t.Errorf("entrypoint \"\": %+v %v", spec.Containers[0], err)
	}

	// Bad values are errors.
	for _, bad := range [][]string{{"--memory", "lots", "x"}, {"--cpus", "-1", "x"}, {"-l", "=v", "x"}} {
		o = &runOptions{}
		cmd = &cobra.Command{Use: "run"}
		addRunFlags(cmd, o)
		if err := cmd.ParseFlags(bad); err != nil {
			continue
		}
		if _, err := o.podSpec("x", nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
