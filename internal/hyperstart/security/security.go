// Package security confines a container process as its protocol spec
// says: capability sets, no_new_privs, a seccomp filter, the OOM score
// and umask, and, for a process without CAP_SYS_ADMIN, a Landlock domain
// of its own that keeps it out of other containers' and hyperstart's
// processes. The host fills the fields; nil ones keep what hyperstart
// has (every capability, no filter, no domain).
//
// The steps run in the spawn child, in two halves around its change of
// user, in runc's order (docs/protocol.md, "Process confinement"):
// Before: OOM score, umask; without no_new_privs the Landlock domain and
// the seccomp filter (they need CAP_SYS_ADMIN, which the process may be
// about to lose; the filter must then allow what follows: prctl,
// setgroups, setresgid, setresuid, capset, execve, as Docker's does); the
// bounding set; keep-caps. After: the capability sets, ambient last;
// with no_new_privs the flag, then the domain and the filter, the last
// thing before execve.
package security

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// DefaultUmask is a process's umask when its spec sets none.
const DefaultUmask = 0o022

// Process is the confinement of one process, checked.
type Process struct {
	// Caps are the capability sets; nil keeps hyperstart's.
	Caps *Caps
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS.
	NoNewPrivileges bool
	// Seccomp is the filter to install, nil for none.
	Seccomp []unix.SockFilter
	// OOMScoreAdj, if set, is written to /proc/self/oom_score_adj.
	OOMScoreAdj *int
	// Umask is the file mode creation mask.
	Umask int
	// Isolated gives the process a Landlock domain: set when its bounding
	// set lacks CAP_SYS_ADMIN (a process with it is root of the VM).
	Isolated bool
}

// Parse checks and converts a process spec's confinement fields.
func Parse(p *protocol.ProcessSpec) (Process, error) {
	pr := Process{NoNewPrivileges: p.NoNewPrivileges, Umask: DefaultUmask}
	if p.Capabilities != nil {
		c, err := ParseCaps(p.Capabilities)
		if err != nil {
			return Process{}, err
		}
		pr.Isolated = !c.Bounding.Has(unix.CAP_SYS_ADMIN)
		if !c.full() { // else the same as none: started directly if it can
			pr.Caps = &c
		}
	}
	if p.Seccomp != nil {
		prog, err := ParseSeccomp(p.Seccomp)
		if err != nil {
			return Process{}, err
		}
		pr.Seccomp = prog
	}
	if v := p.OOMScoreAdj; v != nil {
		if *v < -1000 || *v > 1000 {
			return Process{}, errs.Invalid("oom score adjustment %d is outside -1000..1000", *v)
		}
		pr.OOMScoreAdj = v
	}
	if p.Umask != nil {
		if *p.Umask > 0o777 {
			return Process{}, errs.Invalid("umask %#o is above 0777", *p.Umask)
		}
		pr.Umask = int(*p.Umask)
	}
	return pr, nil
}

// OnThread reports whether the process's confinement can be had by a
// process forked from a prepared thread (see Thread): the other steps
// are per process (the OOM score) or must come between the fork and the
// exec (capabilities across the change of user, the filter and domain,
// which would bind the forking thread too: Docker's filter refuses the
// clone3 that starts a child in its cgroup).
func (pr *Process) OnThread() bool {
	return pr.Caps == nil && pr.Seccomp == nil && pr.OOMScoreAdj == nil && !pr.Isolated
}

// Thread gives the calling locked thread, whose filesystem attributes
// are its own (CLONE_FS unshared), what OnThread allows: the umask and
// no_new_privs, which a forked child inherits.
func (pr *Process) Thread() error {
	unix.Umask(pr.Umask)
	return pr.setNoNewPrivs()
}

// Before is the half before the change of user, on the calling locked
// thread of the process that will exec.
func (pr *Process) Before() error {
	if v := pr.OOMScoreAdj; v != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*v)), 0); err != nil {
			return errs.Internal("setting oom score adjustment %d: %w", *v, err)
		}
	}
	unix.Umask(pr.Umask)
	if !pr.NoNewPrivileges {
		if err := pr.restrict(); err != nil {
			return err
		}
	}
	if pr.Caps != nil {
		if err := pr.Caps.dropBounding(); err != nil {
			return errs.Internal("%w", err)
		}
		if err := keepCaps(true); err != nil {
			return errs.Internal("%w", err)
		}
	}
	return nil
}

// After is the half after the change of user; execve follows.
func (pr *Process) After() error {
	if pr.Caps != nil {
		if err := pr.Caps.set(); err != nil {
			return errs.Internal("%w", err)
		}
		if err := keepCaps(false); err != nil {
			return errs.Internal("%w", err)
		}
	}
	if pr.NoNewPrivileges {
		if err := pr.setNoNewPrivs(); err != nil {
			return err
		}
		return pr.restrict()
	}
	return nil
}

func (pr *Process) setNoNewPrivs() error {
	if !pr.NoNewPrivileges {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return errs.Internal("setting no_new_privs: %w", err)
	}
	return nil
}

// restrict enters the Landlock domain, if isolated, and installs the
// filter, if any.
func (pr *Process) restrict() error {
	if pr.Isolated {
		if err := EnterDomain(); err != nil {
			return err
		}
	}
	if pr.Seccomp != nil {
		if err := installSeccomp(pr.Seccomp); err != nil {
			return errs.Internal("%w", err)
		}
	}
	return nil
}

// ValidatePaths checks the paths of a container's masked or read-only
// list: absolute, clean, without NUL.
func ValidatePaths(kind string, paths []string) error {
	for _, p := range paths {
		switch {
		case strings.IndexByte(p, 0) >= 0:
			return errs.Invalid("%s %q contains NUL", kind, p)
		case !filepath.IsAbs(p):
			return errs.Invalid("%s %q is not absolute", kind, p)
		case filepath.Clean(p) != p:
			return errs.Invalid("%s %q is not clean (%q)", kind, p, filepath.Clean(p))
		}
	}
	return nil
}
