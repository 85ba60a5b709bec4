// Package reaper is hyperstart's one central child reaper. As PID 1 it
// must collect every child that exits, its own and orphans alike, and hand
// the exit status of the processes it started to whoever waits for them.
//
// Nothing else in the process may call wait4 or os.Process.Wait: they race
// with the reaper. Processes are started through Start, which holds the
// reaper's lock while forking so that a child exiting at once is always
// registered before its status is collected.
package reaper

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper collects exited children and dispatches their statuses.
type Reaper struct {
	mu      sync.Mutex
	waiting map[int]chan unix.WaitStatus
}

// New returns a reaper; call Run to start reaping.
func New() *Reaper {
	return &Reaper{waiting: make(map[int]chan unix.WaitStatus)}
}

// Run reaps children forever. It wakes on SIGCHLD and, as a safety net
// against a lost wake-up, every few seconds.
func (r *Reaper) Run() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		r.ReapOnce()
		select {
		case <-sigs:
		case <-tick.C:
		}
	}
}

// ReapOnce collects every child that has exited so far.
func (r *Reaper) ReapOnce() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		ch, ok := r.waiting[pid]
		if !ok {
			slog.Debug("reaped orphan", "pid", pid)
			continue
		}
		delete(r.waiting, pid)
		ch <- ws // buffered, never blocks
	}
}

// Start runs start, which must fork a child and return its pid, with the
// reaper locked, and registers that pid. The returned channel receives the
// child's wait status exactly once.
func (r *Reaper) Start(start func() (int, error)) (int, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := start()
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiting[pid] = ch
	return pid, ch, nil
}

// Kill sends sig to pid if pid is a registered child that has not been
// reaped yet, which guarantees the pid was not reused. It returns ESRCH
// otherwise.
func (r *Reaper) Kill(pid int, sig unix.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.waiting[pid]; !ok {
		return unix.ESRCH
	}
	return unix.Kill(pid, sig)
}

// Running reports whether pid is a registered child not yet reaped.
func (r *Reaper) Running(pid int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.waiting[pid]
	return ok
}

// ExitCode converts a wait status to the shell convention: the exit code,
// or 128+signal for a process killed by a signal (signal is then non-zero).
func ExitCode(ws unix.WaitStatus) (code, signal int) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), 0
	case ws.Signaled():
		s := int(ws.Signal())
		return 128 + s, s
	default:
		return 255, 0
	}
}
