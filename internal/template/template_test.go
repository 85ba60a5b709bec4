package template

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/hypervisor"
)

func testSpec(t *testing.T) hypervisor.Spec {
	dir := t.TempDir()
	for _, f := range []string{"vmlinux", "initrd", "scratch"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return hypervisor.Spec{ID: "p1", StateDir: dir, VCPUs: 1, MemoryMB: 256,
		Kernel:   hypervisor.Kernel{Path: filepath.Join(dir, "vmlinux"), Initrd: filepath.Join(dir, "initrd")},
		Accel:    hypervisor.Accel{Kind: hypervisor.AccelTCG},
		Channels: []hypervisor.Channel{{Name: "hyper.0", SocketPath: filepath.Join(dir, "h.sock")}},
		Disks:    []hypervisor.Disk{{Path: filepath.Join(dir, "scratch"), Serial: "scratch0"}},
		NICs:     []hypervisor.NIC{{MAC: "02:01:02:03:04:05", Forwards: []hypervisor.PortForward{{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, GuestPort: 80}}}},
	}
}

// TestKey: a pod's own names, paths and forwards do not change the key;
// its shape and the boot files do.
func TestKey(t *testing.T) {
	s := testSpec(t)
	k, err := Key(s)
	if err != nil {
		t.Fatal(err)
	}
	same := s
	same.ID, same.StateDir = "p2", "/elsewhere"
	same.NICs = []hypervisor.NIC{{MAC: "02:09:09:09:09:09"}}
	same.Channels = []hypervisor.Channel{{Name: "hyper.0", SocketPath: "/x/h.sock"}}
	if k2, _ := Key(same); k2 != k {
		t.Errorf("per-pod fields changed the key")
	}
	for name, mod := range map[string]func(*hypervisor.Spec){
		"memory":  func(s *hypervisor.Spec) { s.MemoryMB = 512 },
		"vcpus":   func(s *hypervisor.Spec) { s.VCPUs = 2 },
		"no nic":  func(s *hypervisor.Spec) { s.NICs = nil },
		"cmdline": func(s *hypervisor.Spec) { s.Kernel.Cmdline = "x=1" },
		"shares":  func(s *hypervisor.Spec) { s.Shares = []hypervisor.Share{{Tag: "v0", Path: "/d"}} },
		"scratch size": func(s *hypervisor.Spec) {
			os.WriteFile(s.Disks[0].Path, make([]byte, 4096), 0o600)
		},
		"new kernel": func(s *hypervisor.Spec) {
			os.Chtimes(s.Kernel.Path, time.Now(), time.Now().Add(time.Hour))
		},
	} {
		m := testSpec(t)
		m.Kernel, m.Disks = s.Kernel, append([]hypervisor.Disk(nil), s.Disks...)
		mod(&m)
		k2, err := Key(m)
		if err != nil {
			t.Fatal(err)
		}
		if k2 == k {
			t.Errorf("%s: same key", name)
		}
		os.WriteFile(s.Disks[0].Path, []byte("scratch"), 0o600)
	}
	for name, mod := range map[string]func(*hypervisor.Spec){
		"hot-plug disk": func(s *hypervisor.Spec) {
			s.Disks = append(s.Disks, hypervisor.Disk{Path: s.Disks[0].Path, Serial: "img0", Hotplug: true})
		},
		"tap": func(s *hypervisor.Spec) { s.NICs[0].Tap = "tap0" },
	} {
		m := testSpec(t)
		mod(&m)
		if _, err := Key(m); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}

// TestBuildSpec: the template VM gets its own paths, placeholder disks of
// the pod's sizes, and the template MACs without forwards.
func TestBuildSpec(t *testing.T) {
	s := testSpec(t)
	dir := t.TempDir()
	b, err := buildSpec(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.StateDir != dir || filepath.Dir(b.Channels[0].SocketPath) != dir || filepath.Dir(b.Disks[0].Path) != dir {
		t.Errorf("paths outside the build dir: %+v", b)
	}
	if st, err := os.Stat(b.Disks[0].Path); err != nil || st.Size() != int64(len("scratch")) {
		t.Errorf("placeholder disk: %v %v", st, err)
	}
	if b.NICs[0].MAC != macs(1)[0] || len(b.NICs[0].Forwards) != 0 {
		t.Errorf("nic %+v", b.NICs[0])
	}
	if s.Disks[0].Path == b.Disks[0].Path || s.NICs[0].MAC == b.NICs[0].MAC {
		t.Error("buildSpec changed its input")
	}
}

// saver is a Templater that counts builds and can fail them.
type saver struct {
	builds atomic.Int32
	fail   error
}

func (s *saver) SaveTemplate(ctx context.Context, spec hypervisor.Spec, dir string) error {
	s.builds.Add(1)
	time.Sleep(20 * time.Millisecond)
	if s.fail != nil {
		return s.fail
	}
	return os.WriteFile(filepath.Join(dir, "state"), []byte("s"), 0o600)
}

func (s *saver) Restore(context.Context, hypervisor.Spec, string) (hypervisor.VM, error) {
	return nil, errors.New("not in this test")
}

// TestCacheGet: concurrent first uses build once; a discarded template
// is built again; a failed build is not retried at once.
func TestCacheGet(t *testing.T) {
	s := testSpec(t)
	sv := &saver{}
	c := New(t.TempDir(), sv, nil)
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tm, err := c.Get(context.Background(), s)
			if err != nil {
				t.Error(err)
			}
			dirs[i] = tm.Dir
		}()
	}
	wg.Wait()
	if n := sv.builds.Load(); n != 1 || dirs[0] != dirs[3] {
		t.Fatalf("%d builds, dirs %v", n, dirs)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "state")); err != nil {
		t.Fatal(err)
	}
	c.Discard(Template{Dir: dirs[0]}, errors.New("test"))
	if _, err := c.Get(context.Background(), s); err != nil || sv.builds.Load() != 2 {
		t.Fatalf("after discard: %v, %d builds", err, sv.builds.Load())
	}

	bad := &saver{fail: errors.New("no qemu")}
	c = New(t.TempDir(), bad, nil)
	for range 2 {
		if _, err := c.Get(context.Background(), s); err == nil {
			t.Fatal("a failed build returned a template")
		}
	}
	if n := bad.builds.Load(); n != 1 {
		t.Errorf("failed build tried %d times at once", n)
	}
	if ents, _ := os.ReadDir(c.dir); len(ents) != 0 {
		t.Errorf("failed build left %v", ents)
	}
}

// TestPrune: a new kernel makes the old template unusable: building the
// new one removes it.
func TestPrune(t *testing.T) {
	s := testSpec(t)
	c := New(t.TempDir(), &saver{}, nil)
	old, err := c.Get(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	os.Chtimes(s.Kernel.Path, time.Now(), time.Now().Add(time.Hour))
	cur, err := c.Get(context.Background(), s)
	if err != nil || cur.Dir == old.Dir {
		t.Fatalf("%v %v", cur, err)
	}
	if _, err := os.Stat(old.Dir); !os.IsNotExist(err) {
		t.Errorf("stale template %s kept", old.Dir)
	}
	if _, err := os.Stat(cur.Dir); err != nil {
		t.Error(err)
	}
}
