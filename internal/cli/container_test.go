package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// fakeContainers adds to and removes from the fake daemon's pod "web".
type fakeContainers struct{ f *fakeDaemon }

func (c fakeContainers) Add(ctx context.Context, pod string, spec types.ContainerSpec) (types.CreateResponse, error) {
	if spec.Image == "missing" {
		return types.CreateResponse{}, errdefs.NotFound("no such image: missing")
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.order = append(c.f.order, fmt.Sprintf("add %s %s %s %s %v", pod, spec.Name, spec.Image, strings.Join(spec.Cmd, " "), spec.Env))
	if spec.Name == "" {
		spec.Name = "web-1"
	}
	return types.CreateResponse{ID: spec.Name}, nil
}

func (c fakeContainers) Remove(ctx context.Context, pod, name string, force bool) error {
	if name == "gone" {
		return errdefs.NotFound("pod %s has no container %q", pod, name)
	}
	c.f.note(fmt.Sprintf("rm %s %s %v", pod, name, force))
	return nil
}

func TestAddRemoveContainer(t *testing.T) {
	f := newFakeDaemon()
	host := serve(t, f)
	r := hyperctl(t, host, "", "create", "-c", "web", "--name", "cache", "-e", "A=1", "busybox", "sh", "-c", "x")
	if r.code != 0 || r.out != "cache\n" || f.order[len(f.order)-1] != "add web cache busybox sh -c x [A=1]" {
		t.Errorf("create -c: %+v %v", r, f.order)
	}
	if r := hyperctl(t, host, "", "create", "-c", "web", "busybox"); r.out != "web-1\n" {
		t.Errorf("create -c unnamed: %+v", r)
	}
	r = hyperctl(t, host, "", "create", "-c", "web", "-m", "1g", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "--memory describes a pod") {
		t.Errorf("create -c with a pod flag: %+v", r)
	}
	if r := hyperctl(t, host, "", "create", "-c", "nosuch", "busybox"); r.code != 125 || !strings.Contains(r.err, "no such pod") {
		t.Errorf("create -c in a missing pod: %+v", r)
	}
	r = hyperctl(t, host, "", "rm", "-f", "-c", "web", "cache", "gone", "web-1")
	if r.code != 1 || r.out != "cache\nweb-1\n" || !strings.Contains(r.err, `no container "gone"`) ||
		f.order[len(f.order)-1] != "rm web web-1 true" {
		t.Errorf("rm -c: %+v %v", r, f.order)
	}
	if r := hyperctl(t, host, "", "rm", "-c", "web"); r.code != 125 {
		t.Errorf("rm -c without a container: %+v", r)
	}
}
