package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/hyperhq/hyper/internal/api/types"
)

// loadVariant loads busybox as image name:latest with env in its config:
// an image with an ID of its own.
func (h *hyperd) loadVariant(name, env string) {
	h.t.Helper()
	im, err := mutate.Config(busyboxImage(h.t), v1.Config{Cmd: []string{"sh"}, Env: []string{env}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.loadImage(name+":latest", im)
}

// container finds a pod's container by name.
func container(p types.Pod, name string) (types.Container, bool) {
	i := slices.IndexFunc(p.Containers, func(c types.Container) bool { return c.Name == name })
	if i < 0 {
		return types.Container{}, false
	}
	return p.Containers[i], true
}

// TestAddRemoveContainers adds a container with an image of its own to a
// running pod (its disk is hot-added), removes it, adds it again, and
// checks it is part of the pod across a stop/start and a hyperd crash.
func TestAddRemoveContainers(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.loadVariant("other", "N=other")
	h.ok("run", "-d", "--name", "hot", "busybox", "sleep", "3600")
	// A count: names follow probe order, which differs between boots (a VM
	// restored from a template gets its disks hot-added).
	blocks := func() string { return h.ok("exec", "hot", "sh", "-c", "ls /sys/block | wc -l") }
	before := blocks()

	add := func(msg string) {
		t.Helper()
		if out := h.ok("create", "-c", "hot", "--name", "web", "-e", "MSG="+msg, "other", "sh", "-c", "echo $MSG $N; exec sleep 7777"); out != "web\n" {
			t.Fatalf("create -c said %q", out)
		}
		waitFor(t, time.Minute, "the added container's output", func() bool {
			out, _, _ := h.run("", "logs", "-c", "web", "hot")
			return out == msg+" other\n"
		})
	}
	add("hello")
	if out := h.ok("exec", "-c", "web", "hot", "sh", "-c", "echo $N"); out != "other\n" {
		t.Errorf("exec in the added container: %q", out)
	}
	// One PID namespace: each container sees the other's processes.
	if out := h.ok("exec", "-c", "web", "hot", "ps"); !strings.Contains(out, "sleep 3600") {
		t.Errorf("ps in the added container:\n%s", out)
	}
	if out := h.ok("exec", "hot", "ps"); !strings.Contains(out, "sleep 7777") {
		t.Errorf("ps in the first container:\n%s", out)
	}
	p, _ := h.client.GetPod(h.ctx(), "hot")
	web, ok := container(p, "web")
	if !ok || web.State != types.StateRunning || web.ImageID == p.Containers[0].ImageID || web.Pid == 0 {
		t.Errorf("inspect after add: %+v", p.Containers)
	}
	if _, _, code := h.run("", "create", "-c", "hot", "--name", "web", "busybox"); code == 0 {
		t.Error("a second container named web was added")
	}

	// Removing: a running container needs -f; the pod's only other
	// container cannot go; the disk of the removed one's image goes.
	if _, _, code := h.run("", "rm", "-c", "hot", "web"); code == 0 {
		t.Error("rm -c removed a running container without -f")
	}
	h.ok("rm", "-f", "-c", "hot", "web")
	p, _ = h.client.GetPod(h.ctx(), "hot")
	if _, ok := container(p, "web"); ok || p.State != types.StateRunning || len(p.Containers) != 1 {
		t.Errorf("after rm -c: %s %+v", p.State, p.Containers)
	}
	if out := h.ok("exec", "hot", "ps"); strings.Contains(out, "sleep 7777") {
		t.Errorf("the removed container's process runs on:\n%s", out)
	}
	if _, _, code := h.run("", "logs", "-c", "web", "hot"); code == 0 {
		t.Error("logs of a removed container")
	}
	waitFor(t, time.Minute, "the image disk to go", func() bool { return blocks() == before })
	if _, _, code := h.run("", "rm", "-f", "-c", "hot", "hot"); code == 0 {
		t.Error("the pod's last container was removed")
	}

	// The same name again; then the pod is stopped and started: the added
	// container is part of it now.
	add("again")
	h.ok("stop", "-t", "1", "hot")
	h.ok("start", "hot")
	waitFor(t, time.Minute, "both containers after a restart", func() bool {
		out, _, code := h.run("", "exec", "-c", "web", "hot", "ps")
		return code == 0 && strings.Contains(out, "sleep 3600") && strings.Contains(out, "sleep 7777")
	})

	// hyperd crashes and comes back: the re-attached pod's added container
	// is removed, its disk found in QEMU; another is added.
	h.kill9()
	h.start()
	p, _ = h.client.GetPod(h.ctx(), "hot")
	if web, ok := container(p, "web"); !ok || web.State != types.StateRunning || p.State != types.StateRunning {
		t.Fatalf("after hyperd restart: %s %+v", p.State, p.Containers)
	}
	h.ok("rm", "-f", "-c", "hot", "web")
	waitFor(t, time.Minute, "the image disk to go after a hyperd restart", func() bool { return blocks() == before })
	add("back")
	h.ok("rm", "-f", "-c", "hot", "web")
	if out := h.ok("exec", "hot", "echo", "alive"); out != "alive\n" {
		t.Errorf("pod after the removals: %q", out)
	}
}

// TestAddContainerPolicies adds containers to a pod that has not started
// (they start with it) and to a running one with a restart policy.
func TestAddContainerPolicies(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("create", "--name", "cold", "busybox", "sleep", "3600")
	if out := h.ok("create", "-c", "cold", "busybox", "echo", "two"); out != "cold-1\n" {
		t.Fatalf("create -c said %q", out)
	}
	if _, _, code := h.run("", "create", "-c", "cold", "--memory", "1g", "busybox"); code == 0 {
		t.Error("create -c took a pod flag")
	}
	h.ok("start", "cold")
	waitFor(t, time.Minute, "the added container's output", func() bool {
		out, _, _ := h.run("", "logs", "-c", "cold-1", "cold")
		return out == "two\n"
	})
	_, err := h.client.AddContainer(h.ctx(), "cold", types.ContainerSpec{Name: "flaky", Image: "busybox",
		Cmd: []string{"sh", "-c", "echo try; exit 3"}, RestartPolicy: "onFailure:2"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the restarts of the added container", func() bool {
		p, _ := h.client.GetPod(h.ctx(), "cold")
		c, _ := container(p, "flaky")
		return c.RestartCount == 2 && c.State == types.StateExited
	})
	if out := h.ok("logs", "-c", "flaky", "cold"); out != "try\ntry\ntry\n" {
		t.Errorf("logs of the restarted container: %q", out)
	}
	p, _ := h.client.GetPod(h.ctx(), "cold")
	if c, _ := container(p, "flaky"); p.State != types.StateRunning || c.ExitCode != 3 {
		t.Errorf("pod %s, flaky %+v", p.State, c)
	}
	h.ok("rm", "-c", "cold", "flaky", "cold-1") // exited: no -f needed
	p, _ = h.client.GetPod(h.ctx(), "cold")
	if len(p.Containers) != 1 || p.State != types.StateRunning {
		t.Errorf("after rm -c: %s %+v", p.State, p.Containers)
	}
}
