package cli

import (
	"context"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

func (f *fakeDaemon) Rename(ctx context.Context, id, name string) error {
	if id == "gone" {
		return errdefs.NotFound("no such pod: gone")
	}
	if name == "taken" {
		return errdefs.Conflict("the name %q is already used by pod 0123456789ab", name)
	}
	f.note("rename " + id + " " + name)
	return nil
}

func TestWaitCommand(t *testing.T) {
	f := newFakeDaemon()
	f.exitCode = 3
	close(f.exited)
	host := serve(t, f)
	r := hyperctl(t, host, "", "wait", "web", "web")
	if r.code != 0 || r.out != "3\n3\n" || r.err != "" {
		t.Errorf("wait: %+v", r)
	}
	if r := hyperctl(t, host, "", "wait"); r.code != 125 {
		t.Errorf("wait without a pod: %+v", r)
	}
}

func TestRestartCommand(t *testing.T) {
	f := newFakeDaemon()
	host := serve(t, f)
	r := hyperctl(t, host, "", "restart", "-t", "1", "web")
	if r.code != 0 || r.out != "web\n" {
		t.Errorf("restart: %+v", r)
	}
	if n := len(f.order); n < 2 || f.order[n-2] != "stop web 1s" || f.order[n-1] != "start" {
		t.Errorf("restart did %v, want stop then start", f.order)
	}
	r = hyperctl(t, host, "", "restart", "gone")
	if r.code != 1 || r.out != "" || r.err != "hyperctl: no such pod: gone\n" {
		t.Errorf("restart of a missing pod: %+v", r)
	}
	if r := hyperctl(t, host, "", "restart", "-t", "-1", "web"); r.code != 125 {
		t.Errorf("restart -t -1: %+v", r)
	}
}

func TestRenameCommand(t *testing.T) {
	f := newFakeDaemon()
	host := serve(t, f)
	r := hyperctl(t, host, "", "rename", "web", "api")
	if r.code != 0 || r.out != "" || f.order[len(f.order)-1] != "rename web api" {
		t.Errorf("rename: %+v %v", r, f.order)
	}
	r = hyperctl(t, host, "", "rename", "web", "taken")
	if r.code != 1 || r.err != "hyperctl: the name \"taken\" is already used by pod 0123456789ab\n" {
		t.Errorf("rename to a taken name: %+v", r)
	}
	if r := hyperctl(t, host, "", "rename", "web"); r.code != 125 {
		t.Errorf("rename with one argument: %+v", r)
	}
}
