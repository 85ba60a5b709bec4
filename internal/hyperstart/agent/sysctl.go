package agent

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/sysctl"
)

// validateSysctls checks the pod's sysctls before anything is set up.
func validateSysctls(sysctls map[string]string) error {
	for k, v := range sysctls {
		if err := sysctl.Check(k, v); err != nil {
			return errs.Invalid("%w", err)
		}
	}
	return nil
}

// applySysctls writes the pod's sysctls under procSys ("/proc/sys") from a
// thread that has joined the pod's IPC namespace (ipcNS, an open ns fd):
// the kernel applies IPC parameters to the writer's namespace. The network
// namespace is the VM's, which is the pod's.
func applySysctls(procSys string, ipcNS int, sysctls map[string]string) error {
	if len(sysctls) == 0 {
		return nil
	}
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return inNamespace(ipcNS, unix.CLONE_NEWIPC, func() error {
		for _, k := range keys {
			p := filepath.Join(procSys, sysctl.Key(k))
			err := writeParam(p, sysctls[k])
			if errors.Is(err, os.ErrNotExist) {
				return errs.Invalid("sysctl %s: this kernel has no such parameter", k)
			}
			if err != nil {
				return errs.Invalid("sysctl %s=%q: %w", k, sysctls[k], errors.Unwrap(err))
			}
		}
		return nil
	})
}

// inNamespace runs fn on a locked thread that has joined the namespace
// nsFD (an open ns fd) of type typ (CLONE_NEW*).
func inNamespace(nsFD, typ int, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime discards the thread, and its
		// namespace, when this goroutine ends.
		runtime.LockOSThread()
		if err := unix.Setns(nsFD, typ); err != nil {
			done <- errs.Internal("joining the pod's namespace %#x: %w", typ, err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// nsFD is the pod's namespace of type typ (CLONE_NEW*).
func (p *pod) nsFD(typ int) int {
	for _, n := range p.ns {
		if n.Type == typ {
			return n.FD
		}
	}
	return -1
}

// endPodInit kills the pod-init of a pod whose creation failed.
func (a *Agent) endPodInit(p *pod) {
	for _, n := range p.ns {
		unix.Close(n.FD)
	}
	a.cfg.Reaper.Kill(p.initPid, unix.SIGKILL)
}

// writeParam writes an existing /proc/sys file (never creates one).
func writeParam(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
