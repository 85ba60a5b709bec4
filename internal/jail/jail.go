// Package jail confines a hypervisor process the way Firecracker's jailer
// does (docs/adr/0012-qemu-jail.md): the daemon re-executes itself as a
// short-lived jailer (Command, then Main in the child) that, in a mount
// namespace and a PID namespace of its own, builds a tmpfs root holding
// only what the program needs (read-only system directories, its boot files, read-write its
// shares), pivots into it, joins a cgroup with memory and pids limits,
// drops to an unprivileged user with no capabilities (or only the few it
// is given as ambient ones) and no_new_privs, and executes the program
// with the descriptors it inherited. The program keeps the jailer's pid;
// the mounts vanish with the namespace when it exits.
package jail

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// envSpec carries the encoded Spec from Command to Main.
const envSpec = "HYPER_JAIL_SPEC"

// Spec describes one jailed program.
type Spec struct {
	// ID names the jail and its cgroup, unique among the running jails;
	// [A-Za-z0-9_.-], 1-128 bytes.
	ID string `json:"id"`
	// Root is an existing empty directory on which the jail's tmpfs root
	// is mounted, in the jail's mount namespace only.
	Root string `json:"root"`
	// Program (absolute) and its arguments (without argv[0]).
	Program string   `json:"program"`
	Args    []string `json:"args"`
	// User is who the program runs as.
	User Identity `json:"user"`
	// Binds are host paths seen at the same path inside the jail.
	Binds []Bind `json:"binds"`
	// Devices are device nodes (/dev/null...) bound into the jail.
	Devices []string `json:"devices"`
	// AmbientCaps are the only capabilities the program keeps (as
	// ambient capabilities); none by default.
	AmbientCaps []Capability `json:"ambient_caps"`
	// Cgroup, when set, is the jail's own cgroup with these limits
	// (CgroupsAvailable); nil: the program stays in the daemon's.
	Cgroup *Limits `json:"cgroup"`
}

// Identity is an unprivileged user.
type Identity struct {
	Name   string `json:"name"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Groups []int  `json:"groups"` // supplementary
}

// LookupUser resolves the jail's user; a missing user is NotFound, root
// (or a member of its group) InvalidArgument.
func LookupUser(name string) (Identity, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return Identity{}, errdefs.NotFound("jail user %q does not exist (hack/install-deps.sh creates it, as root)", name)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("jail user %q: %w", name, err)
	}
	id := Identity{Name: name}
	if id.UID, err = strconv.Atoi(u.Uid); err == nil {
		id.GID, err = strconv.Atoi(u.Gid)
	}
	gids, gerr := u.GroupIds()
	for _, g := range gids {
		n, cerr := strconv.Atoi(g)
		if cerr == nil && n != id.GID {
			id.Groups = append(id.Groups, n)
		}
		err = errors.Join(err, cerr)
	}
	if err = errors.Join(err, gerr); err != nil {
		return Identity{}, fmt.Errorf("jail user %q: %w", name, err)
	}
	if id.UID == 0 || id.GID == 0 || slices.Contains(id.Groups, 0) {
		return Identity{}, errdefs.InvalidArgument("jail user %q is root or in root's group", name)
	}
	return id, nil
}

// Bind is a host file or directory bound into the jail at its own path.
type Bind struct {
	Path     string `json:"path"`
	Writable bool   `json:"writable"`
	// Recursive brings the mounts below Path along (a 9p share's binds
	// of host paths).
	Recursive bool `json:"recursive"`
}

// Limits are the cgroup limits of one jail.
type Limits struct {
	MemoryBytes int64 `json:"memory_bytes"` // 0: no limit
	Pids        int   `json:"pids"`         // 0: no limit
}

// SystemBinds are the host directories a dynamically linked program of
// the distribution needs, read-only: its binary, libraries and data files
// (QEMU's firmware in /usr/share). Symlinks among them (merged /usr) are
// recreated as symlinks.
var SystemBinds = []string{"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives"}

// Command returns the command that runs spec's program jailed: jailer is
// a program whose main calls Main first (this daemon's executable). The
// caller adds Stdout, Stderr and ExtraFiles (inherited by the program as
// descriptors 3 and up) and starts it. The process is the leader of a
// session of its own.
func Command(jailer string, spec Spec) (*exec.Cmd, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("jail %s: %w", spec.ID, err)
	}
	cmd := exec.Command(jailer)
	cmd.Args = []string{"hyper-jailer", spec.ID}
	cmd.Env = []string{envSpec + "=" + string(b)}
	// Go's child unshares the mount namespace and makes every mount in it
	// private before it executes the jailer: nothing the jailer mounts
	// reaches the host. In a PID namespace of its own the program is its
	// init: it sees (in its /proc) and reaches (ptrace, kill) no other
	// process, not even the other jails', which run as the same user.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Unshareflags: syscall.CLONE_NEWNS, Cloneflags: syscall.CLONE_NEWPID}
	return cmd, nil
}

func (s Spec) check() error {
	if !validID(s.ID) {
		return errdefs.InvalidArgument("jail id %q: want 1-64 bytes of letters, digits, '_', '.' or '-'", s.ID)
	}
	if s.User.UID == 0 || s.User.GID == 0 || slices.Contains(s.User.Groups, 0) {
		return errdefs.InvalidArgument("jail %s: user %q is root or in root's group: the jail is for an unprivileged user", s.ID, s.User.Name)
	}
	paths := []string{s.Root, s.Program}
	for _, b := range s.Binds {
		paths = append(paths, b.Path)
	}
	for _, p := range append(paths, s.Devices...) {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
			return errdefs.InvalidArgument("jail %s: path %q: want a clean absolute path other than /", s.ID, p)
		}
	}
	for _, c := range s.AmbientCaps {
		if _, ok := capNames[c]; !ok {
			return errdefs.InvalidArgument("jail %s: capability %d is not one a jail may keep", s.ID, c)
		}
	}
	if l := s.Cgroup; l != nil && (l.MemoryBytes < 0 || l.Pids < 0) {
		return errdefs.InvalidArgument("jail %s: negative limit", s.ID)
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return false
	}
	return !strings.ContainsFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-')
	})
}

// Main turns this process into the jailer when Command started it, and
// does not return then; otherwise it returns at once. A daemon's main,
// and the TestMain of tests that jail, call it before anything else.
func Main() {
	enc, ok := os.LookupEnv(envSpec)
	if !ok {
		return
	}
	var spec Spec
	err := json.Unmarshal([]byte(enc), &spec)
	if err == nil {
		err = spec.check()
	}
	if err == nil {
		err = run(spec) // returns only on failure
	}
	fmt.Fprintf(os.Stderr, "hyper-jailer: %v\n", err)
	os.Exit(125)
}
