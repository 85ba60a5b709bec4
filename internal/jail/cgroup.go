package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// cgroupRoot is where cgroup file systems are mounted.
var cgroupRoot = "/sys/fs/cgroup"

// cgroupParent is the parent cgroup of every jail, in each hierarchy.
const cgroupParent = "hyper"

// hierarchy is one cgroup directory of a jail and the limits it writes.
type hierarchy struct {
	dir    string
	limits map[string]string // file -> value
}

// hierarchies are the cgroup directories of jail id: one per controller
// on a v1 (or hybrid) host, one on a unified (v2) one.
func hierarchies(id string, l Limits) []hierarchy {
	mem, pids := "max", "max"
	if l.MemoryBytes > 0 {
		mem = strconv.FormatInt(l.MemoryBytes, 10)
	}
	if l.Pids > 0 {
		pids = strconv.Itoa(l.Pids)
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return []hierarchy{{dir: filepath.Join(cgroupRoot, cgroupParent, id), limits: map[string]string{"memory.max": mem, "pids.max": pids}}}
	}
	if mem == "max" {
		mem = "-1"
	}
	return []hierarchy{
		{dir: filepath.Join(cgroupRoot, "memory", cgroupParent, id), limits: map[string]string{"memory.limit_in_bytes": mem}},
		{dir: filepath.Join(cgroupRoot, "pids", cgroupParent, id), limits: map[string]string{"pids.max": pids}},
	}
}

// CgroupsAvailable tells whether this host's cgroup file systems have
// what jails need: the memory and pids controllers (not so under `ip
// netns exec`, which mounts a sysfs of its own over /sys).
func CgroupsAvailable() error {
	for _, h := range hierarchies("x", Limits{}) {
		if _, err := os.Stat(filepath.Dir(filepath.Dir(h.dir))); err != nil {
			return fmt.Errorf("no cgroup hierarchy for jails: %w", err)
		}
	}
	return nil
}

// joinCgroup creates jail id's cgroups with their limits and moves this
// process into them.
func joinCgroup(id string, l Limits) error {
	for _, h := range hierarchies(id, l) {
		if err := enableControllers(filepath.Dir(h.dir)); err != nil {
			return err
		}
		if err := os.MkdirAll(h.dir, 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", h.dir, err)
		}
		for f, v := range h.limits {
			if err := os.WriteFile(filepath.Join(h.dir, f), []byte(v), 0o644); err != nil {
				return fmt.Errorf("cgroup %s: %w", h.dir, err)
			}
		}
		// 0 is the writer (its pid in its PID namespace is 1).
		if err := os.WriteFile(filepath.Join(h.dir, "cgroup.procs"), []byte("0"), 0o644); err != nil {
			return fmt.Errorf("joining cgroup %s: %w", h.dir, err)
		}
	}
	return nil
}

// enableControllers creates the unified hierarchy's parent with the memory
// and pids controllers on for its children; a v1 parent needs nothing.
func enableControllers(parent string) error {
	if filepath.Dir(parent) != cgroupRoot {
		return nil // v1: /sys/fs/cgroup/<controller>/hyper
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating cgroup %s: %w", parent, err)
	}
	for _, dir := range []string{cgroupRoot, parent} {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +pids"), 0o644); err != nil {
			return fmt.Errorf("enabling the memory and pids controllers in %s: %w", dir, err)
		}
	}
	return nil
}

// RemoveCgroup removes jail id's cgroups once its process has gone (the
// kernel may take a moment to empty them). Missing ones are fine.
func RemoveCgroup(id string) error {
	if !validID(id) {
		return fmt.Errorf("cgroup of jail %q: bad id", id)
	}
	var errs []error
	for _, h := range hierarchies(id, Limits{}) {
		errs = append(errs, rmdirRetry(h.dir))
	}
	return errors.Join(errs...)
}

func rmdirRetry(dir string) error {
	for i := 0; ; i++ {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || i == 50 {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RemoveStaleCgroups removes the jail cgroups that no process is in any
// more (their VM ended while no daemon watched it); those of running VMs
// stay (rmdir of a cgroup in use fails).
func RemoveStaleCgroups() {
	for _, parent := range []string{
		filepath.Join(cgroupRoot, cgroupParent),
		filepath.Join(cgroupRoot, "memory", cgroupParent),
		filepath.Join(cgroupRoot, "pids", cgroupParent),
	} {
		ents, _ := os.ReadDir(parent)
		for _, e := range ents {
			if e.IsDir() && validID(e.Name()) {
				syscall.Rmdir(filepath.Join(parent, e.Name()))
			}
		}
	}
}

// CgroupOf returns the memory cgroup directory of jail id (for tests and
// diagnostics).
func CgroupOf(id string) string { return hierarchies(id, Limits{})[0].dir }

// ProcessCgroup returns the id of the jail whose cgroup process pid is in
// (a daemon that re-attached to a jailed program removes its cgroup once
// it has gone); NotFound if it is in none.
func ProcessCgroup(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("cgroup of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// "4:memory:/hyper/ID" (v1), "0::/hyper/ID" (unified)
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || (f[1] != "memory" && f[1] != "") {
			continue
		}
		if dir, id := filepath.Split(f[2]); dir == "/"+cgroupParent+"/" && validID(id) {
			return id, nil
		}
	}
	return "", errdefs.NotFound("process %d is in no jail's cgroup", pid)
}
