package daemon

import (
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
)

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
