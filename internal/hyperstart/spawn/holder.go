package spawn

import (
	"context"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/security"
)

// Holder is a locked thread in a container's namespaces, root and
// Landlock domain, from which the container's isolated processes are
// forked: they share the one domain, so that an exec reaches the files of
// its container's other processes (/proc/PID/fd, root) and still none
// of another container's. It lives from the start of the container's
// init to its exit.
type Holder struct {
	reqs  chan func()
	done  chan struct{}
	ended chan struct{} // the thread's goroutine returned: the thread goes
	once  sync.Once
}

// NewHolder sets the container of o.Spec (an init's, with the pod's proc)
// up on a new locked thread, as a direct start does, and puts the thread
// in a new Landlock domain.
func NewHolder(o Options) (*Holder, error) {
	if !o.Spec.Init || o.Spec.Proc == "" {
		return nil, errs.Internal("a process holder needs a container's init with the pod's proc")
	}
	h := &Holder{reqs: make(chan func()), done: make(chan struct{}), ended: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(h.ended)
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		err := enterNamespaces(&o)
		if err == nil {
			err = unix.Unshare(unix.CLONE_NEWNS)
			if err != nil {
				err = errs.Internal("unsharing mount namespace: %w", err)
			}
		}
		if err == nil {
			err = setupContainer(&o.Spec)
		}
		if err == nil {
			err = security.EnterDomain()
		}
		ready <- err
		if err != nil {
			return
		}
		for {
			select {
			case f := <-h.reqs:
				f()
			case <-h.done:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return h, nil
}

// Start starts a process of the container from the holder's thread,
// through a spawn child, which enters no domain of its own. o's
// namespaces and mount namespace are the holder's, whatever o says.
func (h *Holder) Start(ctx context.Context, o Options) (Process, error) {
	o.Namespaces, o.MountNS = nil, 0
	o.Spec.Init, o.Spec.InDomain = false, true
	return startChild(ctx, o, h.do)
}

// do runs fn on the holder's thread.
func (h *Holder) do(fn func() (Process, error)) (Process, error) {
	res := make(chan started, 1)
	select {
	case h.reqs <- func() { p, err := fn(); res <- started{p, err} }:
	case <-h.done:
		return Process{}, errs.Conflict("the container's init has exited")
	}
	r := <-res
	return r.p, r.err
}

// Close ends the holder's thread, and with it its hold on the
// container's mount namespace; later starts fail.
func (h *Holder) Close() {
	h.once.Do(func() { close(h.done) })
	<-h.ended
}
