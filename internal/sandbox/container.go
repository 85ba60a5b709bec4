package sandbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/logs"
)

// container is one container: its spec, status, the main process of the
// current run and its I/O, together. Its fields are guarded by the
// sandbox's mu; out has its own lock.
type container struct {
	spec   ContainerSpec
	init   bool
	status ContainerStatus
	// out carries the main process's output to attached clients, across
	// runs.
	out *fanout
	io  *ctrIO
}

// ctrIO is a container's main process and its I/O for one run.
type ctrIO struct {
	stdinR *io.PipeReader // nil unless the process has a stdin
	stdinW *io.PipeWriter
	proc   *guest.Process
	// forwarding: stdinR is copied to the process of the moment (one
	// copier for the run, so that a restart's process gets what follows);
	// stdinEnded once stdinR ended.
	forwarding, stdinEnded bool
	// done is closed when the container's run ended (its process exited
	// for good and its output was delivered, or it was removed).
	done chan struct{}
	// delivered is closed once the current process's output was
	// delivered (restarts wait for it: the log keeps its order).
	delivered chan struct{}
	// removed is closed when the container's removal from the running
	// pod begins: it is not restarted any more. ended is closed when its
	// supervision ended (nil: not supervised in this run).
	removed chan struct{}
	ended   chan struct{}
}

func newContainer(cs ContainerSpec, init bool) *container {
	return &container{spec: cs, init: init, out: &fanout{}, io: newIO(cs.Process.Stdin && !init),
		status: ContainerStatus{Name: cs.Name, State: CtrCreated}}
}

func newIO(stdin bool) *ctrIO {
	c := &ctrIO{done: make(chan struct{}), removed: make(chan struct{})}
	if stdin {
		c.stdinR, c.stdinW = io.Pipe()
	}
	return c
}

// end closes the run's done channel and stdin, once.
func (c *ctrIO) end() {
	if !isClosed(c.done) {
		close(c.done)
	}
	if c.stdinR != nil {
		c.stdinR.Close()
	}
}

// markRemoved stops the container's restarts, once.
func (c *ctrIO) markRemoved() {
	if !isClosed(c.removed) {
		close(c.removed)
	}
}

// awaitDelivered waits (at most 5 s) until the host has copied the
// processes' last output.
func awaitDelivered(ios []*ctrIO) {
	timeout := timeAfter(deliverTimeout)
	for _, c := range ios {
		if c.delivered == nil {
			continue
		}
		select {
		case <-c.delivered:
		case <-timeout:
			return
		}
	}
}

// logPath is container name's log file in the pod's directory.
func logPath(dir, name string) string { return filepath.Join(dir, "logs", name+".log") }

// logFiles are the containers' log files, <dir>/logs/<name>.log: each is
// rotated at maxSize bytes, keeping maxFiles rotated files.
type logFiles struct {
	dir      string
	maxSize  int64
	maxFiles int
	log      *slog.Logger
}

// pump copies a process's output into container name's log file and to
// out's clients (out may be nil); the channel is closed once all of it
// was delivered.
func (l logFiles) pump(proc *guest.Process, name string, out *fanout) (chan struct{}, error) {
	lw, err := logs.Open(logPath(l.dir, name), l.maxSize, l.maxFiles)
	if err != nil {
		return nil, err
	}
	delivered := make(chan struct{})
	var wg sync.WaitGroup
	copyOut := func(r io.Reader, stream string) {
		defer wg.Done()
		lineW := lw.Stream(stream)
		defer lineW.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				lineW.Write(buf[:n])
				if out != nil {
					out.write(stream == "stderr", buf[:n])
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go copyOut(proc.Stdout, "stdout")
	if proc.Stderr != nil {
		wg.Add(1)
		go copyOut(proc.Stderr, "stderr")
	}
	go func() {
		wg.Wait()
		lw.Close()
		close(delivered)
	}()
	return delivered, nil
}

// remove deletes container name's log and its rotated files (the
// container was removed).
func (l logFiles) remove(name string) {
	base := logPath(l.dir, name)
	for n := 0; n <= l.maxFiles; n++ {
		path := base
		if n > 0 {
			path = fmt.Sprintf("%s.%d", base, n)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Warn("removing container log", "path", path, "err", err)
		}
	}
}

// fanout copies a process's output to the attached clients. Writes are
// synchronous: a slow client slows the process (through the guest's flow
// control), it never makes the host buffer.
type fanout struct {
	mu   sync.Mutex
	next int
	subs map[int]subscriber
}

type subscriber struct {
	stdout, stderr io.Writer // stderr nil: merged into stdout
	gone           chan struct{}
}

func (f *fanout) subscribe(stdout, stderr io.Writer) (int, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[int]subscriber{}
	}
	f.next++
	s := subscriber{stdout, stderr, make(chan struct{})}
	f.subs[f.next] = s
	return f.next, s.gone
}

func (f *fanout) unsubscribe(id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.subs[id]; ok {
		close(s.gone)
		delete(f.subs, id)
	}
}

func (f *fanout) write(stderr bool, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, s := range f.subs {
		w := s.stdout
		if stderr && s.stderr != nil {
			w = s.stderr
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(b); err != nil {
			close(s.gone)
			delete(f.subs, id)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
