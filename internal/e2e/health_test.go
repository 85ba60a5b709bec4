package e2e

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestHealthcheck: --health-cmd runs in the container every interval: the
// container goes from starting to unhealthy after --health-retries
// failures, to healthy once the check passes, as ps and inspect show; an
// image's HEALTHCHECK applies unless --no-healthcheck.
func TestHealthcheck(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok && echo fine", "--health-interval", "500ms",
		"--health-retries", "2", "busybox", "sleep", "3600")
	health := func(name string) string {
		out, _, _ := h.run("", "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}} {{.State.Health.FailingStreak}}{{end}}", name)
		return strings.TrimSpace(out)
	}
	if s := health("hc"); s != "starting 0" {
		t.Errorf("at the start: %q", s)
	}
	waitFor(t, time.Minute, "hc to be unhealthy", func() bool { return strings.HasPrefix(health("hc"), "unhealthy ") })
	if out := h.ok("ps", "--format", "{{.Status}}"); !strings.Contains(out, "(unhealthy)") {
		t.Errorf("ps status: %q", out)
	}
	h.ok("exec", "hc", "touch", "/tmp/ok")
	waitFor(t, time.Minute, "hc to be healthy", func() bool { return health("hc") == "healthy 0" })
	if out := h.ok("ps", "--format", "{{.Status}}"); !strings.Contains(out, "(healthy)") {
		t.Errorf("ps status: %q", out)
	}
	p, err := h.client.GetPod(h.ctx(), "hc")
	if err != nil {
		t.Fatal(err)
	}
	hl := p.Containers[0].Health
	if hl == nil || len(hl.Log) == 0 || len(hl.Log) > 5 || hl.Log[len(hl.Log)-1].Output != "fine\n" || hl.Log[len(hl.Log)-1].ExitCode != 0 {
		t.Errorf("health log: %+v", hl)
	}
	// Each transition is a health_status event, docker's way.
	out := h.ok("events", "--since", "10m", "--until", "0s", "--filter", "event=health_status", "--filter", "pod=hc", "--format", "{{.Action}}")
	if out != "health_status: unhealthy\nhealth_status: healthy\n" {
		t.Errorf("health_status events: %q", out)
	}
	h.ok("stop", "-t", "0", "hc")
	if s := health("hc"); s != "" {
		t.Errorf("a stopped pod's health: %q", s)
	}

	// The image's HEALTHCHECK, and --no-healthcheck.
	im, err := mutate.Config(busyboxImage(t), v1.Config{Cmd: []string{"sleep", "3600"},
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}, Interval: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	h.loadImage("checked:latest", im)
	h.ok("run", "-d", "--name", "img", "checked")
	h.ok("run", "-d", "--name", "off", "--no-healthcheck", "checked")
	waitFor(t, time.Minute, "img to be healthy", func() bool { return health("img") == "healthy 0" })
	if s := health("off"); s != "" {
		t.Errorf("--no-healthcheck: %q", s)
	}
	if _, stderr, code := h.run("", "run", "-d", "--no-healthcheck", "--health-cmd", "true", "busybox"); code == 0 || !strings.Contains(stderr, "conflicts") {
		t.Errorf("--no-healthcheck --health-cmd: %d %q", code, stderr)
	}
}
