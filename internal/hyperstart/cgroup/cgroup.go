// Package cgroup manages the cgroup v2 directories of containers: create,
// enable controllers, kill everything inside, wait until empty, remove.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Root is where the cgroup2 hierarchy is mounted.
const Root = "/sys/fs/cgroup"

// EnableControllers enables in dir's subtree every controller available
// to dir. Controllers that cannot be enabled are skipped; the names of
// those enabled are returned.
func EnableControllers(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("reading controllers of %s: %w", dir, err)
	}
	var enabled []string
	for _, c := range strings.Fields(string(b)) {
		if os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
			enabled = append(enabled, c)
		}
	}
	return enabled, nil
}

// Group is one cgroup directory.
type Group struct{ Path string }

// Create makes the cgroup directory (an existing one is reused).
func Create(path string) (Group, error) {
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return Group{}, fmt.Errorf("creating cgroup %s: %w", path, err)
	}
	return Group{Path: path}, nil
}

// Open returns a directory fd of the cgroup, for CLONE_INTO_CGROUP.
func (g Group) Open() (int, error) {
	fd, err := unix.Open(g.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening cgroup %s: %w", g.Path, err)
	}
	return fd, nil
}

// Kill SIGKILLs every process in the cgroup: through cgroup.kill, or, on
// kernels without it, process by process.
func (g Group) Kill() error {
	err := os.WriteFile(filepath.Join(g.Path, "cgroup.kill"), []byte("1"), 0)
	if err == nil || errors.Is(err, os.ErrNotExist) && !exists(g.Path) {
		return nil
	}
	pids, perr := g.Procs()
	if perr != nil {
		return fmt.Errorf("killing cgroup %s: %w", g.Path, err)
	}
	for _, pid := range pids {
		unix.Kill(pid, unix.SIGKILL)
	}
	return nil
}

// Procs lists the processes in the cgroup.
func (g Group) Procs() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(g.Path, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Populated reports whether any process is in the cgroup or below.
func (g Group) Populated() (bool, error) {
	b, err := os.ReadFile(filepath.Join(g.Path, "cgroup.events"))
	if errors.Is(err, os.ErrNotExist) && !exists(g.Path) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading events of %s: %w", g.Path, err)
	}
	return populated(b), nil
}

func populated(events []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(events))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == "populated" {
			return strings.TrimSpace(v) != "0"
		}
	}
	return false
}

// WaitEmpty polls until the cgroup is empty or timeout passes.
func (g Group) WaitEmpty(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pop, err := g.Populated()
		if err != nil {
			return err
		}
		if !pop {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s still has processes after %v", g.Path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Remove removes the cgroup directory, retrying briefly while exiting
// processes are being released.
func (g Group) Remove() error {
	var err error
	for i := 0; i < 50; i++ {
		err = unix.Rmdir(g.Path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", g.Path, err)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
