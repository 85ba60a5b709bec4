package spawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/passwd"
	"github.com/hyperhq/hyper/internal/hyperstart/rlimit"
	"github.com/hyperhq/hyper/internal/hyperstart/security"
	"github.com/hyperhq/hyper/internal/protocol"
)

// DefaultPath is PATH for processes whose environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Run is the spawn child's main. It only returns (with an exit code) if
// the program could not be started.
func Run() int {
	// Capabilities, keep-caps, the filter and the domain are per thread:
	// set on the one that execs.
	runtime.LockOSThread()
	f := os.NewFile(specFD, "spawn")
	var spec Spec
	err := json.NewDecoder(io.LimitReader(f, maxSpecSize)).Decode(&spec)
	if err != nil {
		err = errs.Internal("reading spawn spec: %w", err)
	} else {
		err = run(&spec) // returns only on failure
	}
	b, _ := json.Marshal(errs.ToProtocol(err))
	f.Write(b)
	if errs.Code(err) == protocol.CodeNotFound {
		return 127
	}
	return 126
}

func run(spec *Spec) error {
	conf, err := security.Parse(&spec.Process)
	if err != nil {
		return err
	}
	conf.Isolated = conf.Isolated && !spec.InDomain
	if spec.Init {
		if err := setupContainer(spec); err != nil {
			return err
		}
	}
	p := &spec.Process
	user, err := resolveUser(p)
	if err != nil {
		return err
	}
	if p.Terminal {
		if err := terminal(user.UID); err != nil {
			return errs.Internal("%w", err)
		}
	}
	env := Env(p.Env, user.Home, p.Terminal)
	if err := rlimit.Apply(p.Rlimits); err != nil {
		return err
	}
	path, err := enterCwd(p, env)
	if err != nil {
		return err
	}
	if err := conf.Before(); err != nil {
		return err
	}
	if err := setUser(user); err != nil {
		return errs.Internal("%w", err)
	}
	unix.CloseOnExec(specFD)
	if err := conf.After(); err != nil {
		return err
	}
	return execError(path, syscall.Exec(path, p.Args, env))
}

// setUser gives the calling thread, the one that execs, the user's
// groups, gid and uid. Credentials are per thread in Linux and the
// exec'd program gets this thread's, so the runtime's all-threads
// variants (syscall.Setuid etc., a stop of the world each) are not
// needed; the other threads end at the exec.
func setUser(user passwd.Exec) error {
	gids := make([]uint32, len(user.Groups))
	for i, g := range user.Groups {
		gids[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(gids) > 0 {
		p = unsafe.Pointer(&gids[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setgroups %v: %w", user.Groups, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(user.GID), uintptr(user.GID), uintptr(user.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", user.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(user.UID), uintptr(user.UID), uintptr(user.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", user.UID, e)
	}
	return nil
}

// terminal opens a pty in the container's devpts, makes its slave the
// controlling terminal and stdio of the process, and sends the master to
// the parent over specFD.
func terminal(uid int) error {
	master, slave, err := openTerminal(uid)
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	sfd := int(slave.Fd())
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(sfd, fd, 0); err != nil {
			return fmt.Errorf("terminal as fd %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("setting controlling terminal: %w", err)
	}
	if err := unix.Sendmsg(specFD, []byte{terminalMsg}, unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("sending terminal: %w", err)
	}
	return nil
}

// Env completes a process environment with HOME, PATH, HOSTNAME and,
// for terminals, TERM, unless already set.
func Env(env []string, home string, terminal bool) []string {
	out := append([]string(nil), env...)
	add := func(k, v string) {
		for _, e := range out {
			if strings.HasPrefix(e, k+"=") {
				return
			}
		}
		out = append(out, k+"="+v)
	}
	add("PATH", DefaultPath)
	add("HOME", home)
	if h, err := os.Hostname(); err == nil {
		add("HOSTNAME", h)
	}
	if terminal {
		add("TERM", "xterm")
	}
	return out
}

func getenv(env []string, key string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, key+"="); ok {
			return v
		}
	}
	return ""
}

// LookPath finds the executable name in path (a $PATH value). A name
// containing a slash is used as is.
func LookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", errs.NotFound("%s: executable file not found in $PATH", name)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errs.NotFound("%s: no such file or directory", p)
		}
		return errs.Invalid("%w", err)
	}
	if st.IsDir() {
		return errs.Invalid("%s: is a directory", p)
	}
	if st.Mode().Perm()&0o111 == 0 {
		return errs.Invalid("%s: permission denied", p)
	}
	return nil
}

// Validate checks a process spec before anything is started for it.
func Validate(p *protocol.ProcessSpec) error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return errs.Invalid("no command given")
	}
	for _, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return errs.Invalid("argument contains NUL")
		}
	}
	for _, e := range p.Env {
		if strings.IndexByte(e, 0) >= 0 || !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return errs.Invalid("invalid environment entry %q", e)
		}
	}
	if p.Cwd != "" && !filepath.IsAbs(p.Cwd) {
		return errs.Invalid("cwd %q is not absolute", p.Cwd)
	}
	if strings.IndexByte(p.User, 0) >= 0 {
		return errs.Invalid("invalid user %q", p.User)
	}
	if err := rlimit.Validate(p.Rlimits); err != nil {
		return err
	}
	_, err := security.Parse(p)
	return err
}
