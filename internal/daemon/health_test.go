package daemon

import (
	"errors"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// TestHealthBoard: failures within the start period do not count; Retries
// failures make the container unhealthy, a pass healthy; the log keeps
// the last 5; each transition is reported once (record's changed).
func TestHealthBoard(t *testing.T) {
	var b healthBoard
	var events []string
	h := &types.Health{Status: types.HealthStarting}
	b.set("p", "c", h)
	step := func(code int, failing bool) string {
		st, changed := b.record("p", "c", types.HealthResult{ExitCode: code}, failing, 2)
		if changed {
			events = append(events, "c:"+st)
		}
		return st
	}
	for i, tc := range []struct {
		code    int
		failing bool
		want    string
	}{
		{1, false, "starting"}, {1, true, "starting"}, {1, true, "unhealthy"}, {1, true, "unhealthy"},
		{0, true, "healthy"}, {1, true, "healthy"}, {1, true, "unhealthy"},
	} {
		if got := step(tc.code, tc.failing); got != tc.want {
			t.Errorf("step %d: %s, want %s", i, got, tc.want)
		}
	}
	if len(events) != 3 || events[0] != "c:unhealthy" || events[1] != "c:healthy" || events[2] != "c:unhealthy" {
		t.Errorf("events: %v", events)
	}
	pod := types.Pod{ID: "p", Containers: []types.Container{{Name: "c"}, {Name: "d"}}}
	b.fill(&pod)
	if hl := pod.Containers[0].Health; hl == nil || len(hl.Log) != 5 || hl.FailingStreak != 2 || pod.Containers[1].Health != nil {
		t.Errorf("fill: %+v", pod.Containers)
	}
	b.drop("p", "c", &types.Health{}) // another run's: kept
	if b.byPod["p"]["c"] == nil {
		t.Error("dropped a newer run's health")
	}
	b.drop("p", "c", h)
	if len(b.byPod) != 0 {
		t.Errorf("left: %v", b.byPod)
	}
}

func TestHealthConfig(t *testing.T) {
	if _, ok := activeCheck(types.ContainerSpec{}); ok {
		t.Error("no check is active")
	}
	if _, ok := activeCheck(types.ContainerSpec{Healthcheck: &types.HealthConfig{Test: []string{"NONE"}}}); ok {
		t.Error("NONE is active")
	}
	hc, ok := activeCheck(types.ContainerSpec{Healthcheck: &types.HealthConfig{Test: []string{"CMD", "true"}}})
	if !ok || hc.Interval != 30*time.Second || hc.Timeout != 30*time.Second || hc.Retries != 3 {
		t.Errorf("defaults: %+v", hc)
	}
	if a, err := healthArgs([]string{"CMD-SHELL", "exit 1"}); err != nil || len(a) != 3 || a[0] != "/bin/sh" {
		t.Errorf("CMD-SHELL: %v %v", a, err)
	}
	for _, bad := range []*types.HealthConfig{{Test: []string{"CMD"}}, {Test: []string{"SHELL", "x"}},
		{Test: []string{"CMD", "x"}, Interval: -1}, {Test: []string{"CMD", "x"}, Timeout: time.Microsecond}} {
		if err := checkHealthConfig("c", bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	cs := types.ContainerSpec{}
	healthDefaults(&cs, &types.HealthConfig{Test: []string{"CMD", "true"}})
	if cs.Healthcheck == nil {
		t.Error("the image's check was not taken")
	}
	w := &boundedBuffer{max: 4}
	w.Write([]byte("abc"))
	w.Write([]byte("def"))
	if w.String() != "abcd" {
		t.Errorf("bounded: %q", w.String())
	}
}
