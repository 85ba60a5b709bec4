package daemon

import (
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
)

func TestShouldRestart(t *testing.T) {
	for _, c := range []struct {
		ctr, pod       string
		code, restarts int
		want           bool
	}{
		{"", "", 1, 0, false},
		{"never", "always", 1, 0, false},
		{"", "always", 0, 100, true},
		{"", "onFailure", 0, 0, false},
		{"", "onFailure", 1, 100, true},
		{"onFailure:2", "", 1, 1, true},
		{"onFailure:2", "", 1, 2, false},
		{"onFailure:0", "always", 1, 0, false},
		{"bogus", "always", 1, 0, false},
	} {
		if got := shouldRestart(c.ctr, c.pod, c.code, c.restarts); got != c.want {
			t.Errorf("shouldRestart(%q, %q, %d, %d) = %v", c.ctr, c.pod, c.code, c.restarts, got)
		}
	}
	for _, bad := range []string{"always:1", "onFailure:-1", "onFailure:x", "sometimes"} {
		if _, _, err := parsePolicy(bad); err == nil {
			t.Errorf("parsePolicy(%q) accepted", bad)
		}
	}
}

func TestImageDefaults(t *testing.T) {
	cs := types.ContainerSpec{Labels: map[string]string{"a": "mine"}}
	imageDefaults(&cs, "SIGQUIT", map[string]string{"a": "image", "b": "image"})
	if cs.StopSignal != "SIGQUIT" || cs.Labels["a"] != "mine" || cs.Labels["b"] != "image" {
		t.Fatalf("%+v", cs)
	}
	if stopSignal(cs) != 3 {
		t.Fatalf("stop signal %d, want 3", stopSignal(cs))
	}
	cs = types.ContainerSpec{StopSignal: "SIGINT"}
	imageDefaults(&cs, "SIGQUIT", nil)
	if cs.StopSignal != "SIGINT" {
		t.Fatalf("container's own stop signal replaced: %+v", cs)
	}
	cs = types.ContainerSpec{}
	imageDefaults(&cs, "NOSUCHSIG", nil)
	if stopSignal(cs) != 15 {
		t.Fatal("a bad image stop signal is not SIGTERM")
	}
}
