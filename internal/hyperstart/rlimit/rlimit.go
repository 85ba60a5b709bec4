// Package rlimit maps resource limit names ("RLIMIT_NOFILE") to their
// numbers and applies them to the calling process.
package rlimit

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

var names = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// Resource returns the number of a limit name.
func Resource(name string) (int, bool) {
	r, ok := names[name]
	return r, ok
}

// Validate checks names and that no soft limit exceeds its hard limit.
func Validate(limits []protocol.Rlimit) error {
	seen := map[string]bool{}
	for _, l := range limits {
		if _, ok := names[l.Type]; !ok {
			return errs.Invalid("unknown rlimit %q", l.Type)
		}
		if l.Soft > l.Hard {
			return errs.Invalid("rlimit %s: soft limit %d above hard limit %d", l.Type, l.Soft, l.Hard)
		}
		if seen[l.Type] {
			return errs.Invalid("rlimit %s given twice", l.Type)
		}
		seen[l.Type] = true
	}
	return nil
}

// Apply sets the limits on the calling process. It uses package syscall
// so that the Go runtime does not restore its saved RLIMIT_NOFILE on exec.
func Apply(limits []protocol.Rlimit) error {
	if err := Validate(limits); err != nil {
		return err
	}
	for _, l := range limits {
		r := names[l.Type]
		if err := syscall.Setrlimit(r, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return errs.Invalid("setting %s to %d/%d: %w", l.Type, l.Soft, l.Hard, err)
		}
	}
	return nil
}
