package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// pullImages adds Pull to the fake image store; images are "in the
// store" once pulled.
type pullImages struct {
	fakeImages
	pulls  *atomic.Int32
	pulled *atomic.Bool
}

func (p pullImages) Pull(ctx context.Context, ref, platform string, progress func(types.PullEvent)) (types.Image, error) {
	p.pulls.Add(1)
	if ref == "nosuch" {
		return types.Image{}, errdefs.NotFound("nosuch: not found in docker.io")
	}
	for _, st := range []string{"downloading", "downloading", "verifying", "extracting", "done"} {
		progress(types.PullEvent{ID: "aaaaaaaaaaaa", Status: st, Current: 1, Total: 2})
	}
	p.pulled.Store(true)
	img := testImage
	if platform != "" {
		img.Names = []string{platform}
	}
	return img, nil
}

// missingPods fail to create until the image is pulled.
type missingPods struct {
	*fakeDaemon
	pulled *atomic.Bool
}

func (m missingPods) Create(ctx context.Context, spec types.PodSpec) (types.CreateResponse, error) {
	if !m.pulled.Load() {
		return types.CreateResponse{}, errdefs.NotFound("container main: no such image: %s", spec.Containers[0].Image)
	}
	return m.fakeDaemon.Create(ctx, spec)
}

func servePull(t *testing.T, f *fakeDaemon) (string, *atomic.Int32, *atomic.Bool) {
	t.Helper()
	b, pulls, pulled := pullBackend(f)
	return "unix://" + apitest.Serve(t, b, nil), pulls, pulled
}

// pullBackend is f with images that must be pulled before pods use them.
func pullBackend(f *fakeDaemon) (api.Backend, *atomic.Int32, *atomic.Bool) {
	pulls, pulled := &atomic.Int32{}, &atomic.Bool{}
	b := api.Backend{Pods: missingPods{f, pulled}, Streams: f, Execs: f, Images: pullImages{fakeImages{f}, pulls, pulled}, System: f}
	return b, pulls, pulled
}

func TestPullCommand(t *testing.T) {
	host, _, _ := servePull(t, newFakeDaemon())
	r := hyperctl(t, host, "", "pull", "busybox")
	want := "aaaaaaaaaaaa: downloading 1B/2B\naaaaaaaaaaaa: verifying\naaaaaaaaaaaa: extracting\naaaaaaaaaaaa: done\nPulled busybox:latest (" + testImage.ID + ")\n"
	if r.code != 0 || r.out != want {
		t.Errorf("pull: %+v", r)
	}
	r = hyperctl(t, host, "", "pull", "-q", "busybox")
	if r.code != 0 || r.out != testImage.ID+"\n" {
		t.Errorf("pull -q: %+v", r)
	}
	r = hyperctl(t, host, "", "pull", "--format", "json", "--platform", "linux/arm64", "busybox")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	var last types.PullEvent
	if r.code != 0 || len(lines) != 6 || json.Unmarshal([]byte(lines[5]), &last) != nil || last.Image == nil || last.Image.Names[0] != "linux/arm64" {
		t.Errorf("pull --format json: %+v", r)
	}
	r = hyperctl(t, host, "", "pull", "nosuch")
	if r.code != 1 || !strings.Contains(r.err, "nosuch: not found") {
		t.Errorf("pull nosuch: %+v", r)
	}
	r = hyperctl(t, host, "", "pull", "--format", "json", "nosuch")
	if r.code != 1 || !strings.Contains(r.out, `"error":"nosuch: not found`) {
		t.Errorf("pull --format json nosuch: %+v", r)
	}
}

func TestRunPull(t *testing.T) {
	host, pulls, _ := servePull(t, newFakeDaemon())
	r := hyperctl(t, host, "", "run", "-d", "--pull", "never", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "no such image") || pulls.Load() != 0 {
		t.Errorf("--pull never: %+v", r)
	}
	r = hyperctl(t, host, "", "run", "-d", "busybox")
	if r.code != 0 || r.out != podID+"\n" || !strings.Contains(r.err, "Pulled busybox:latest") || pulls.Load() != 1 {
		t.Errorf("--pull missing: %+v (%d pulls)", r, pulls.Load())
	}

	host, pulls, pulled := servePull(t, newFakeDaemon())
	pulled.Store(true)
	r = hyperctl(t, host, "", "run", "-d", "busybox")
	if r.code != 0 || pulls.Load() != 0 {
		t.Errorf("--pull missing, present: %+v (%d pulls)", r, pulls.Load())
	}

	host, pulls, _ = servePull(t, newFakeDaemon())
	r = hyperctl(t, host, "", "run", "-d", "--pull", "always", "busybox")
	if r.code != 0 || pulls.Load() != 1 {
		t.Errorf("--pull always: %+v (%d pulls)", r, pulls.Load())
	}
	r = hyperctl(t, host, "", "run", "-d", "--pull", "sometimes", "busybox")
	if r.code != 125 || !strings.Contains(r.err, "--pull") {
		t.Errorf("--pull sometimes: %+v", r)
	}
}

func TestLoginLogout(t *testing.T) {
	reg := it.StartRegistry(t, it.RegistryOptions{User: "bob", Password: "pw1"})
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	r := hyperctl(t, "unix:///nonexistent", "wrong\n", "login", "-u", "bob", "--password-stdin", reg)
	if r.code == 0 || !strings.Contains(r.err, "unauthorized") {
		t.Errorf("wrong password: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		t.Error("config written for a failed login")
	}
	r = hyperctl(t, "unix:///nonexistent", "pw1\n", "login", "-u", "bob", "--password-stdin", reg)
	if r.code != 0 || r.out != "Login Succeeded\n" {
		t.Fatalf("login: %+v", r)
	}
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Auths[reg].Auth != base64.StdEncoding.EncodeToString([]byte("bob:pw1")) {
		t.Fatalf("config.json: %s %v", b, err)
	}
	r = hyperctl(t, "unix:///nonexistent", "", "logout", reg)
	b, _ = os.ReadFile(filepath.Join(dir, "config.json"))
	if r.code != 0 || strings.Contains(string(b), reg) {
		t.Errorf("logout: %+v %s", r, b)
	}
}
