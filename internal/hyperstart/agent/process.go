package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/reaper"
	"github.com/hyperhq/hyper/internal/hyperstart/tty"
	"github.com/hyperhq/hyper/internal/protocol"
)

// process is a process started by ExecProcess.
type process struct {
	container string
	id        string
	isInit    bool
	terminal  bool
	pid       int
	master    *os.File // terminal master, or nil

	stdin bool   // has a stdin stream
	io    procIO // its pumps, for AttachProcess

	status  protocol.ExitStatus // valid once exited is closed
	oomBase uint64              // an init's: its cgroup's oom_kill count when it started
	exited  chan struct{}       // closed when the process has exited
	done    chan struct{}       // closed when exited and its output copied
}

func newProcess(cid, eid string, isInit bool) *process {
	return &process{
		container: cid, id: eid, isInit: isInit,
		exited: make(chan struct{}), done: make(chan struct{}),
	}
}

func (p *process) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// watch copies a process's output until it exits, then records its exit
// status. When a container's init exits, the rest of the container is
// killed, as when a container's PID namespace ends.
func (a *Agent) watch(c *container, p *process, exit <-chan unix.WaitStatus, pio procIO) {
	for _, o := range pio.outputs {
		go o.run()
	}
	if pio.stdin != nil {
		go pio.stdin.run()
	}
	ws := <-exit
	code, sig := reaper.ExitCode(ws)
	p.status = protocol.ExitStatus{Code: code, Signal: sig}
	if p.isInit {
		p.status.OOMKilled = oomKilledSince(c, p.oomBase)
		if err := c.cg.Kill(); err != nil {
			slog.Warn("killing container after its init exited", "container", c.id, "err", err)
		}
		a.mu.Lock()
		if c.state == stateRunning {
			c.state = stateStopped
		}
		h := c.holder
		c.holder = nil
		a.mu.Unlock()
		if h != nil {
			h.Close()
		}
	}
	close(p.exited)
	drain(pio.outputs, DrainIdle)
	if pio.stdin != nil {
		pio.stdin.stop()
	}
	close(p.done)
	slog.Debug("process exited", "container", c.id, "exec", p.id, "pid", p.pid, "code", code, "signal", sig)
}

// pump copies a process's output to its stream. A holding pump (a
// container's main process, whose output the host logs) waits for the host
// to re-attach when its stream breaks, so nothing is lost across a host
// restart: the pipe fills and the process blocks meanwhile, no memory grows.
// Other pumps drop output the host no longer takes.
type pump struct {
	src    *os.File
	dst    net.Conn
	hold   bool
	rebind chan net.Conn // new streams from AttachProcess
	done   chan struct{}
	// mu orders attach against the end of run: a stream handed over
	// after the last write is closed, never left open.
	mu       sync.Mutex
	finished bool
	// reading is when the pending read began (unix nanos), 0 if none.
	reading atomic.Int64
}

func newPump(src *os.File, dst net.Conn, hold bool) *pump {
	return &pump{src: src, dst: dst, hold: hold, rebind: make(chan net.Conn, 1), done: make(chan struct{})}
}

// attach hands the pump a new stream, replacing one not yet taken.
func (p *pump) attach(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		c.Close()
		return
	}
	select {
	case old := <-p.rebind:
		old.Close()
	default:
	}
	p.rebind <- c // room for one: emptied above, and only attach sends
}

// finish ends the pump's streams: the current one, and one handed over
// but not yet taken (its reader sees EOF: the output is complete).
func (p *pump) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished = true
	p.dst.Close()
	select {
	case c := <-p.rebind:
		c.Close()
	default:
	}
}

func (p *pump) run() {
	defer close(p.done)
	defer p.finish()
	defer p.src.Close()
	buf := make([]byte, 32<<10)
	writable := true
	for {
		p.reading.Store(time.Now().UnixNano())
		n, err := p.src.Read(buf)
		p.reading.Store(0)
		for n > 0 {
			select {
			case c := <-p.rebind:
				p.dst.Close()
				p.dst, writable = c, true
			default:
			}
			if !writable {
				break
			}
			if _, werr := p.dst.Write(buf[:n]); werr == nil {
				break
			}
			if !p.hold {
				writable = false // drop what the host no longer takes
				break
			}
			p.dst.Close()
			p.dst = <-p.rebind // wait for the host to re-attach
		}
		if err != nil {
			if err != io.EOF && !tty.IsEOF(err) && !errors.Is(err, os.ErrClosed) {
				slog.Debug("reading process output", "err", err)
			}
			return
		}
	}
}

// drain waits for the pumps to reach EOF. A pump idle for longer than
// idle (its output is held open by a process that outlived the one
// waited for) is cut off.
func drain(pumps []*pump, idle time.Duration) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		busy := false
		for _, p := range pumps {
			select {
			case <-p.done:
				continue
			default:
			}
			busy = true
			if since := p.reading.Load(); since != 0 && time.Since(time.Unix(0, since)) > idle {
				p.src.Close()
			}
		}
		if !busy {
			return
		}
		<-tick.C
	}
}

// stdinPump copies the host's stdin stream to the process. The host's EOF
// closes the process's stdin; a broken stream (the host went away) waits
// for a new one from AttachProcess.
type stdinPump struct {
	mu       sync.Mutex
	src      net.Conn // guarded by mu: attach and stop interrupt it
	dst      *os.File
	closeDst bool // close dst at EOF (a pipe; never a terminal master)
	rebind   chan net.Conn
	stopping chan struct{}
	done     chan struct{}
}

func newStdinPump(src net.Conn, dst *os.File, closeDst bool) *stdinPump {
	return &stdinPump{src: src, dst: dst, closeDst: closeDst, rebind: make(chan net.Conn, 1),
		stopping: make(chan struct{}), done: make(chan struct{})}
}

func (s *stdinPump) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		src := s.src
		s.mu.Unlock()
		_, err := io.Copy(s.dst, src)
		if err == nil { // the host closed stdin
			if s.closeDst {
				s.dst.Close()
			}
			return
		}
		select {
		case c := <-s.rebind:
			src.Close()
			s.mu.Lock()
			s.src = c
			s.mu.Unlock()
		case <-s.stopping:
			return
		}
	}
}

// attach hands the pump a new stdin stream, interrupting the old one.
func (s *stdinPump) attach(c net.Conn) {
	s.mu.Lock()
	old := s.src
	s.mu.Unlock()
	select {
	case <-s.done:
		c.Close()
	case s.rebind <- c:
		old.SetReadDeadline(time.Now()) // leave a stream that may still be open
	}
}

// stop ends the pump once the process is gone.
func (s *stdinPump) stop() {
	close(s.stopping)
	s.mu.Lock()
	s.src.SetReadDeadline(time.Now())
	s.mu.Unlock()
	<-s.done
	s.src.Close()
	if s.closeDst {
		s.dst.Close()
	}
}

// findProcess looks up a process.
func (a *Agent) findProcess(cid, eid string) (*container, *process, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, err := a.lookupProcs(cid)
	if err != nil {
		return nil, nil, err
	}
	p, ok := c.procs[eid]
	if !ok || p.pid == 0 {
		return nil, nil, errs.NotFound("no process %s in container %s", eid, cid)
	}
	return c, p, nil
}

// WaitProcess returns the exit status of a process once it has exited
// and its output has been copied to the host.
func (a *Agent) WaitProcess(ctx context.Context, ref protocol.ProcessRef) (protocol.ExitStatus, error) {
	_, p, err := a.findProcess(ref.Container, ref.Exec)
	if err != nil {
		return protocol.ExitStatus{}, err
	}
	select {
	case <-p.done:
		return p.status, nil
	case <-ctx.Done():
		return protocol.ExitStatus{}, errs.Unavailable("waiting for %s/%s: %w", ref.Container, ref.Exec, ctx.Err())
	}
}

func validSignal(sig int) error {
	if sig <= 0 || sig > 64 {
		return errs.Invalid("invalid signal %d", sig)
	}
	return nil
}

// SignalProcess sends a signal to a process.
func (a *Agent) SignalProcess(ctx context.Context, req protocol.SignalRequest) (protocol.Empty, error) {
	if err := validSignal(req.Signal); err != nil {
		return protocol.Empty{}, err
	}
	_, p, err := a.findProcess(req.Container, req.Exec)
	if err != nil {
		return protocol.Empty{}, err
	}
	if err := a.cfg.Reaper.Kill(p.pid, unix.Signal(req.Signal)); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return protocol.Empty{}, errs.Conflict("process %s/%s has exited", req.Container, req.Exec)
		}
		return protocol.Empty{}, errs.Internal("signalling %s/%s: %w", req.Container, req.Exec, err)
	}
	return protocol.Empty{}, nil
}

// ResizeTerminal sets the window size of a process's terminal.
func (a *Agent) ResizeTerminal(ctx context.Context, req protocol.ResizeRequest) (protocol.Empty, error) {
	_, p, err := a.findProcess(req.Container, req.Exec)
	if err != nil {
		return protocol.Empty{}, err
	}
	if p.master == nil {
		return protocol.Empty{}, errs.Invalid("process %s/%s has no terminal", req.Container, req.Exec)
	}
	if err := tty.Resize(p.master, req.Rows, req.Cols); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return protocol.Empty{}, errs.Conflict("process %s/%s has exited", req.Container, req.Exec)
		}
		return protocol.Empty{}, errs.Internal("resizing terminal of %s/%s: %w", req.Container, req.Exec, err)
	}
	return protocol.Empty{}, nil
}

// StopContainer signals the container's init, kills every process of the
// container after the grace period and returns once they are all gone.
func (a *Agent) StopContainer(ctx context.Context, req protocol.StopRequest) (protocol.Empty, error) {
	sig := req.Signal
	if sig == 0 {
		sig = int(unix.SIGTERM)
	}
	if err := validSignal(sig); err != nil {
		return protocol.Empty{}, err
	}
	a.mu.Lock()
	c, err := a.lookup(req.Container)
	var init *process
	if err == nil {
		if c.state == stateCreating || c.state == stateStarting || c.state == stateRemoving {
			err = errs.Conflict("container %s is %s", c.id, c.state)
		}
		init = c.init
	}
	a.mu.Unlock()
	if err != nil {
		return protocol.Empty{}, err
	}
	grace := time.Duration(max(req.GraceMillis, 0)) * time.Millisecond
	if init != nil && !init.hasExited() {
		a.cfg.Reaper.Kill(init.pid, unix.Signal(sig))
		t := time.NewTimer(grace)
		select {
		case <-init.exited:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	if err := c.cg.Kill(); err != nil {
		return protocol.Empty{}, errs.Internal("%w", err)
	}
	if err := c.cg.WaitEmpty(KillTimeout); err != nil {
		return protocol.Empty{}, errs.Unavailable("%w", err)
	}
	if init != nil {
		select {
		case <-init.exited:
		case <-time.After(KillTimeout):
			return protocol.Empty{}, errs.Unavailable("init of container %s did not exit", c.id)
		}
	}
	return protocol.Empty{}, nil
}
