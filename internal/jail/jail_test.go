package jail_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/jail"
	"github.com/hyperhq/hyper/internal/testenv"
)

// TestMain makes the test binary the jailer of the jailed tests.
func TestMain(m *testing.M) {
	jail.Main()
	os.Exit(m.Run())
}

// jailUser is the user of the jailed tests: the install's (install-deps).
func jailUser(t *testing.T) jail.Identity {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "jailing needs root")
	}
	u, err := jail.LookupUser("hyper-qemu")
	if err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	return u
}

func TestSpecCheck(t *testing.T) {
	ok := jail.Spec{ID: "vm-1", Root: "/run/x/root", Program: "/usr/bin/true", User: jail.Identity{Name: "u", UID: 999, GID: 999}}
	if _, err := jail.Command("/proc/self/exe", ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*jail.Spec){
		"root user":   func(s *jail.Spec) { s.User.UID = 0 },
		"root group":  func(s *jail.Spec) { s.User.Groups = []int{0} },
		"bad id":      func(s *jail.Spec) { s.ID = "../x" },
		"relative":    func(s *jail.Spec) { s.Binds = []jail.Bind{{Path: "usr"}} },
		"unclean":     func(s *jail.Spec) { s.Binds = []jail.Bind{{Path: "/usr/../etc"}} },
		"slash":       func(s *jail.Spec) { s.Binds = []jail.Bind{{Path: "/", Writable: true}} },
		"sys admin":   func(s *jail.Spec) { s.AmbientCaps = []jail.Capability{21} },
		"neg limit":   func(s *jail.Spec) { s.Cgroup = &jail.Limits{Pids: -1} },
		"device path": func(s *jail.Spec) { s.Devices = []string{"null"} },
	} {
		s := ok
		mod(&s)
		if _, err := jail.Command("/proc/self/exe", s); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: got %v, want InvalidArgument", name, err)
		}
	}
}

func TestLookupUserMissing(t *testing.T) {
	if _, err := jail.LookupUser("no-such-user-hyper"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("got %v, want NotFound", err)
	}
	if _, err := jail.LookupUser("root"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("root: got %v, want InvalidArgument", err)
	}
}

// TestJailedProcess runs a shell in a jail and checks what it is and sees
// from outside (/proc) and inside (its report in a writable bind).
func TestJailedProcess(t *testing.T) {
	u := jailUser(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // 0700 root: writable in the jail with CAP_DAC_OVERRIDE only
	ro := t.TempDir()
	os.WriteFile(filepath.Join(ro, "f"), []byte("x"), 0o644)
	root := filepath.Join(t.TempDir(), "root")
	os.Mkdir(root, 0o700)
	script := `ls / > ` + dir + `/ls; touch /usr/x 2>/dev/null && echo usr >> ` + dir + `/w; ` +
		`touch ` + ro + `/f 2>/dev/null && echo ro >> ` + dir + `/w; ` +
		`echo ready > ` + dir + `/ready; read x < /dev/zero`
	id := "test-" + strings.ReplaceAll(t.Name(), "/", "_")
	cmd, err := jail.Command(exe, jail.Spec{
		ID: id, Root: root, Program: "/bin/sh", Args: []string{"-c", script}, User: u,
		Binds:       []jail.Bind{{Path: dir, Writable: true}, {Path: ro}},
		Devices:     []string{"/dev/null", "/dev/zero"},
		AmbientCaps: []jail.Capability{jail.CapDACOverride},
		Cgroup:      &jail.Limits{MemoryBytes: 64 << 20, Pids: 16},
	})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if err := jail.RemoveCgroup(id); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(jail.CgroupOf(id)); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind: %v", jail.CgroupOf(id), err)
		}
	}()
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if i == 500 || cmd.ProcessState != nil {
			t.Fatalf("jailed shell did not get ready: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	st := procStatus(t, pid)
	if st["Uid"][0] != strconv.Itoa(u.UID) {
		t.Errorf("Uid: %v, want %d", st["Uid"], u.UID)
	}
	if st["NoNewPrivs"][0] != "1" {
		t.Errorf("NoNewPrivs: %v", st["NoNewPrivs"])
	}
	if st["CapAmb"][0] != "0000000000000002" || st["CapBnd"][0] != "0000000000000002" {
		t.Errorf("CapAmb %v, CapBnd %v: want CAP_DAC_OVERRIDE only", st["CapAmb"], st["CapBnd"])
	}
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "root"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	for _, n := range names {
		if !slices.Contains([]string{"usr", "lib", "lib64", "bin", "sbin", "etc", "dev", "proc", strings.Split(dir, "/")[1]}, n) {
			t.Errorf("jail root has %q: %v", n, names)
		}
	}
	if w, _ := os.ReadFile(filepath.Join(dir, "w")); len(w) > 0 {
		t.Errorf("the jail wrote to read-only binds: %s", w)
	}
	if got, err := jail.ProcessCgroup(pid); got != id || err != nil {
		t.Errorf("ProcessCgroup = %q, %v; want %s", got, err, id)
	}
	if _, err := jail.ProcessCgroup(os.Getpid()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the test's own cgroup: %v, want NotFound", err)
	}
	procs, err := os.ReadFile(filepath.Join(jail.CgroupOf(id), "cgroup.procs"))
	if err != nil || strings.TrimSpace(string(procs)) != strconv.Itoa(pid) {
		t.Errorf("cgroup.procs of %s: %q, %v; want %d", id, procs, err, pid)
	}
}

// procStatus reads /proc/PID/status as fields.
func procStatus(t *testing.T, pid int) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.Fields(v)
		}
	}
	return m
}
