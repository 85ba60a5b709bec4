package spawn

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/passwd"
	"github.com/hyperhq/hyper/internal/hyperstart/tty"
	"github.com/hyperhq/hyper/internal/protocol"
)

// The setup steps below are shared by the spawn child and by a direct
// start (see startDirect). Each acts on the calling thread's root, cwd
// and mount namespace, which are the process's in the spawn child and
// the locked thread's alone in a direct start (CLONE_FS unshared).

// setupContainer prepares a container's first process: the caller is
// alone in a new mount namespace, which gets the volumes, the container's
// root (pivoted to) and the pod's files, then its masked and read-only
// paths.
func setupContainer(spec *Spec) error {
	// Volumes are cloned in the new mount namespace before the old root
	// goes, attached once the container's root is in place.
	trees, err := cloneVolumes(spec.Volumes)
	if err != nil {
		return errs.Internal("%w", err)
	}
	if err := setupRootfs(spec.Rootfs, spec.Proc, spec.PodFiles, &spec.Confinement); err != nil {
		closeTrees(trees)
		return errs.Internal("setting up container root: %w", err)
	}
	if err := attachVolumes(trees); err != nil {
		return errs.Internal("%w", err)
	}
	if err := confine(&spec.Confinement); err != nil {
		return errs.Internal("%w", err)
	}
	return nil
}

// resolveUser checks that there is a command and resolves the process's
// user against the root's /etc/passwd and /etc/group.
func resolveUser(p *protocol.ProcessSpec) (passwd.Exec, error) {
	if len(p.Args) == 0 {
		return passwd.Exec{}, errs.Invalid("no command given")
	}
	return passwd.ResolveFiles(p.User, p.AdditionalGroups, "/etc/passwd", "/etc/group")
}

// openTerminal opens a pty of the root's devpts, its slave owned by uid.
func openTerminal(uid int) (master, slave *os.File, err error) {
	master, slave, err = tty.Open("/dev/ptmx")
	if err != nil {
		return nil, nil, err
	}
	if err := unix.Fchown(int(slave.Fd()), uid, -1); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("chown terminal: %w", err)
	}
	return master, slave, nil
}

// enterCwd changes to the process's cwd and finds its program in the
// PATH of env.
func enterCwd(p *protocol.ProcessSpec, env []string) (path string, err error) {
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := unix.Chdir(cwd); err != nil {
		return "", errs.Invalid("chdir to cwd %q set in process spec: %w", cwd, err)
	}
	return LookPath(p.Args[0], getenv(env, "PATH"))
}

// execError gives a failed execve of path its kind: not found (exit code
// 127) or not executable (126).
func execError(path string, err error) error {
	if errors.Is(err, unix.ENOENT) {
		return errs.NotFound("exec %s: %w", path, err)
	}
	return errs.Invalid("exec %s: %w", path, err)
}

// credential is the identity of user for SysProcAttr.
func credential(user passwd.Exec) *syscall.Credential {
	groups := make([]uint32, len(user.Groups))
	for i, g := range user.Groups {
		groups[i] = uint32(g)
	}
	return &syscall.Credential{Uid: uint32(user.UID), Gid: uint32(user.GID), Groups: groups}
}
