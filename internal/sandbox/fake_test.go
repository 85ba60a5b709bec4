package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/guest/guesttest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
)

// This file is a fake hypervisor driver whose VMs run a fake guest, so
// that the sandbox's running paths are tested without QEMU. The guest
// speaks the real protocol (hello line, yamux, framed RPCs, stdio
// streams) over the VM's channel socket, where package vm dials it.
//
// A process is scripted by its Args:
//
//	echo WORDS...  writes WORDS and a newline to stdout, exits 0
//	exit N         exits N
//	sleep          runs until signalled (SignalProcess, StopContainer):
//	               exits 128+signal
//	cat            copies stdin to stdout until stdin's end (exits 0) or
//	               a signal (exits 128+signal)
//
// Any other program is not found (ExecProcess fails with not_found).

// fakeDriver is a hypervisor.Driver whose VMs are fakeVMs.
type fakeDriver struct {
	mu  sync.Mutex
	vms []*fakeVM
}

func (d *fakeDriver) Name() string { return "fake" }

func (d *fakeDriver) Create(ctx context.Context, spec hypervisor.Spec) (hypervisor.VM, error) {
	v := &fakeVM{spec: spec, done: make(chan struct{})}
	v.guest = newFakeGuest(v)
	d.mu.Lock()
	d.vms = append(d.vms, v)
	d.mu.Unlock()
	return v, nil
}

// last is the VM created last; nil before the first.
func (d *fakeDriver) last() *fakeVM {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.vms) == 0 {
		return nil
	}
	return d.vms[len(d.vms)-1]
}

func (d *fakeDriver) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.vms)
}

// fakeVM is a VM that serves a fakeGuest on its channel socket. It also
// hot-plugs disks (hypervisor.DiskHotplugger), recording the calls.
type fakeVM struct {
	spec  hypervisor.Spec
	guest *fakeGuest

	mu      sync.Mutex
	ln      net.Listener
	conn    net.Conn
	reason  string // why it ended; set before done is closed
	done    chan struct{}
	added   []string // serials, in the order of AddDisk calls
	removed []string // serials, in the order of RemoveDisk calls
}

func (v *fakeVM) Start(ctx context.Context) error {
	ln, err := net.Listen("unix", v.spec.Channels[0].SocketPath)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.ln = ln
	v.mu.Unlock()
	go func() {
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		v.mu.Lock()
		ended := isClosed(v.done)
		v.conn = conn
		v.mu.Unlock()
		if ended {
			conn.Close()
			return
		}
		v.guest.serve(conn)
	}()
	return nil
}

func (v *fakeVM) Pid() int { return 4242 }

// DialChannel implements hypervisor.VM: the channel socket Start listens
// on.
func (v *fakeVM) DialChannel(ctx context.Context, name string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", v.spec.Channels[0].SocketPath)
}

func (v *fakeVM) Wait(ctx context.Context) (hypervisor.ExitInfo, error) {
	select {
	case <-v.done:
		return hypervisor.ExitInfo{Reason: v.reason}, nil
	case <-ctx.Done():
		return hypervisor.ExitInfo{}, ctx.Err()
	}
}

func (v *fakeVM) Shutdown(ctx context.Context) error {
	v.exit("shut down by the hypervisor")
	return nil
}
func (v *fakeVM) Kill() error { v.exit("killed"); return nil }

// exit ends the VM (once): its channel closes and its processes die
// with it.
func (v *fakeVM) exit(reason string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if isClosed(v.done) {
		return
	}
	v.reason = reason
	if v.ln != nil {
		v.ln.Close()
	}
	if v.conn != nil {
		v.conn.Close()
	}
	close(v.done)
}

func (v *fakeVM) AddDisk(ctx context.Context, d hypervisor.Disk) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.added = append(v.added, d.Serial)
	return nil
}

func (v *fakeVM) RemoveDisk(ctx context.Context, serial string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.removed = append(v.removed, serial)
	return nil
}

// disks returns the serials added and removed so far.
func (v *fakeVM) disks() (added, removed []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.added), slices.Clone(v.removed)
}

// fakeGuest is the guest side of the protocol: containers and scripted
// processes.
type fakeGuest struct {
	vm *fakeVM

	mu      sync.Mutex
	pod     bool
	ctrs    map[string]*fakeCtr
	slots   map[stdioKey]chan net.Conn // stdio streams not yet claimed
	calls   map[string]int             // by method
	creates map[string][]protocol.ContainerSpec
	nextPid int
	vmCtr   *fakeCtr // protocol.VMContainer
}

type stdioKey struct{ container, exec, stdio string }

type fakeCtr struct {
	procs map[string]*fakeProc
}

type fakeProc struct {
	pid    int
	sig    chan int // a signal for a sleeping process
	status protocol.ExitStatus
	done   chan struct{} // closed once it exited and its output was sent
}

func newFakeGuest(v *fakeVM) *fakeGuest {
	return &fakeGuest{vm: v, ctrs: map[string]*fakeCtr{}, slots: map[stdioKey]chan net.Conn{},
		calls: map[string]int{}, creates: map[string][]protocol.ContainerSpec{}, nextPid: 100,
		vmCtr: &fakeCtr{procs: map[string]*fakeProc{}}}
}

// count returns how many calls of method the guest served.
func (g *fakeGuest) count(method string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[method]
}

// callCounts returns how many calls of each method the guest served.
func (g *fakeGuest) callCounts() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.calls)
}

// created returns the specs of container id's CreateContainer calls.
func (g *fakeGuest) created(id string) []protocol.ContainerSpec {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.creates[id])
}

func (g *fakeGuest) serve(conn net.Conn) { guesttest.Serve(conn, g.stream) }

func (g *fakeGuest) stream(s net.Conn) {
	var h protocol.StreamHeader
	if err := protocol.ReadFrame(s, &h); err != nil {
		s.Close()
		return
	}
	switch h.Kind {
	case protocol.KindStdio:
		g.offer(stdioKey{h.Container, h.Exec, h.Stdio}, s)
	case protocol.KindRPC:
		defer s.Close()
		var req json.RawMessage
		if err := protocol.ReadFrame(s, &req); err != nil {
			return
		}
		res, err := g.call(h.Method, req)
		resp := protocol.Response{Error: err}
		if err == nil && res != nil {
			resp.Result, _ = json.Marshal(res)
		}
		if protocol.WriteFrame(s, resp) == nil && h.Method == protocol.MethodShutdown && err == nil {
			go g.powerOff()
		}
	default:
		s.Close()
	}
}

// slot is where the stdio stream key is handed from its opening to the
// ExecProcess that claims it.
func (g *fakeGuest) slot(key stdioKey) chan net.Conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.slotLocked(key)
}

func (g *fakeGuest) slotLocked(key stdioKey) chan net.Conn {
	ch, ok := g.slots[key]
	if !ok {
		ch = make(chan net.Conn, 1)
		g.slots[key] = ch
	}
	return ch
}

// offer hands a stdio stream to its process; one left unclaimed (its
// ExecProcess never came) is dropped.
func (g *fakeGuest) offer(key stdioKey, s net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch := g.slotLocked(key)
	select {
	case old := <-ch:
		old.Close()
	default:
	}
	ch <- s
}

// claim waits for the stdio streams of a process, as the agent does.
func (g *fakeGuest) claim(container, exec string, spec protocol.ProcessSpec) (map[string]net.Conn, *protocol.Error) {
	names := []string{protocol.Stdout}
	if !spec.Terminal {
		names = append(names, protocol.Stderr)
	}
	if spec.Stdin {
		names = append(names, protocol.Stdin)
	}
	streams := map[string]net.Conn{}
	for _, n := range names {
		select {
		case s := <-g.slot(stdioKey{container, exec, n}):
			streams[n] = s
		case <-time.After(5 * time.Second):
			closeAll(streams)
			return nil, &protocol.Error{Code: protocol.CodeUnavailable, Message: "no " + n + " stream"}
		case <-g.vm.done:
			closeAll(streams)
			return nil, &protocol.Error{Code: protocol.CodeUnavailable, Message: "powering off"}
		}
	}
	return streams, nil
}

func closeAll(streams map[string]net.Conn) {
	for _, s := range streams {
		s.Close()
	}
}

func notFound(format string, a ...any) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeNotFound, Message: fmt.Sprintf(format, a...)}
}

func conflict(format string, a ...any) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeConflict, Message: fmt.Sprintf(format, a...)}
}

// call serves one RPC.
func (g *fakeGuest) call(method string, raw json.RawMessage) (any, *protocol.Error) {
	g.mu.Lock()
	g.calls[method]++
	g.mu.Unlock()
	switch method {
	case protocol.MethodPing, protocol.MethodResume, protocol.MethodShutdown:
		return nil, nil
	case protocol.MethodCreatePod:
		g.mu.Lock()
		g.pod = true
		g.mu.Unlock()
		return nil, nil
	case protocol.MethodCreateContainer:
		return handle(raw, func(spec protocol.ContainerSpec) (any, *protocol.Error) { return nil, g.createContainer(spec) })
	case protocol.MethodExecProcess:
		return handle(raw, g.exec)
	case protocol.MethodWaitProcess:
		return handle(raw, g.wait)
	case protocol.MethodSignalProcess:
		return handle(raw, g.signal)
	case protocol.MethodResizeTerminal:
		return handle(raw, g.resize)
	case protocol.MethodStopContainer:
		return handle(raw, func(req protocol.StopRequest) (any, *protocol.Error) { return nil, g.stopContainer(req) })
	case protocol.MethodRemoveContainer:
		return handle(raw, func(ref protocol.ContainerRef) (any, *protocol.Error) { return nil, g.removeContainer(ref.Container) })
	}
	return nil, &protocol.Error{Code: protocol.CodeInvalidArgument, Message: "unknown method " + method}
}

// handle decodes an RPC's request for f.
func handle[Req any](raw json.RawMessage, f func(Req) (any, *protocol.Error)) (any, *protocol.Error) {
	var req Req
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, &protocol.Error{Code: protocol.CodeInvalidArgument, Message: err.Error()}
	}
	return f(req)
}

func (g *fakeGuest) wait(ref protocol.ProcessRef) (any, *protocol.Error) {
	p, err := g.process(ref.Container, ref.Exec)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
		return p.status, nil
	case <-g.vm.done:
		return nil, &protocol.Error{Code: protocol.CodeUnavailable, Message: "powering off"}
	}
}

func (g *fakeGuest) signal(req protocol.SignalRequest) (any, *protocol.Error) {
	p, err := g.process(req.Container, req.Exec)
	if err != nil {
		return nil, err
	}
	if !p.signal(req.Signal) {
		return nil, conflict("process %s/%s has exited", req.Container, req.Exec)
	}
	return nil, nil
}

func (g *fakeGuest) resize(req protocol.ResizeRequest) (any, *protocol.Error) {
	_, err := g.process(req.Container, req.Exec)
	return nil, err
}

func (g *fakeGuest) createContainer(spec protocol.ContainerSpec) *protocol.Error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !g.pod:
		return conflict("pod not created yet")
	case spec.ID == "" || spec.ID == protocol.VMContainer:
		return &protocol.Error{Code: protocol.CodeInvalidArgument, Message: "bad container id"}
	case g.ctrs[spec.ID] != nil:
		return conflict("container %s already exists", spec.ID)
	}
	g.ctrs[spec.ID] = &fakeCtr{procs: map[string]*fakeProc{}}
	g.creates[spec.ID] = append(g.creates[spec.ID], spec)
	return nil
}

// container finds a container (or the VM's own); g.mu must be held.
func (g *fakeGuest) container(id string) (*fakeCtr, *protocol.Error) {
	if id == protocol.VMContainer {
		return g.vmCtr, nil
	}
	c, ok := g.ctrs[id]
	if !ok {
		return nil, notFound("no container %s", id)
	}
	return c, nil
}

func (g *fakeGuest) process(container, exec string) (*fakeProc, *protocol.Error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.container(container)
	if err != nil {
		return nil, err
	}
	p, ok := c.procs[exec]
	if !ok {
		return nil, notFound("no process %s in container %s", exec, container)
	}
	return p, nil
}

func (g *fakeGuest) exec(req protocol.ExecRequest) (any, *protocol.Error) {
	streams, perr := g.claim(req.Container, req.Exec, req.Process)
	if perr != nil {
		return nil, perr
	}
	fail := func(err *protocol.Error) (any, *protocol.Error) {
		closeAll(streams)
		return nil, err
	}
	args := req.Process.Args
	if len(args) == 0 || !slices.Contains([]string{"echo", "exit", "sleep", "cat", "oom"}, args[0]) {
		return fail(notFound("executable file not found: %q", args))
	}
	g.mu.Lock()
	c, err := g.container(req.Container)
	if err != nil {
		g.mu.Unlock()
		return fail(err)
	}
	if _, ok := c.procs[req.Exec]; ok {
		g.mu.Unlock()
		return fail(conflict("process %s already exists in container %s", req.Exec, req.Container))
	}
	if init := c.procs[protocol.InitExec]; req.Exec != protocol.InitExec && (init == nil || isClosed(init.done)) && c != g.vmCtr {
		g.mu.Unlock()
		return fail(conflict("container %s has no running init process", req.Container))
	}
	g.nextPid++
	p := &fakeProc{pid: g.nextPid, sig: make(chan int, 1), done: make(chan struct{})}
	c.procs[req.Exec] = p
	g.mu.Unlock()
	go g.run(p, args, streams)
	return protocol.ExecResult{Pid: p.pid}, nil
}

// run plays a process's script, then closes its output.
func (g *fakeGuest) run(p *fakeProc, args []string, streams map[string]net.Conn) {
	switch args[0] {
	case "echo":
		io.WriteString(streams[protocol.Stdout], strings.Join(args[1:], " ")+"\n")
	case "exit":
		if len(args) > 1 {
			p.status.Code, _ = strconv.Atoi(args[1])
		}
	case "oom": // killed by the guest's OOM killer
		p.status = protocol.ExitStatus{Code: 137, Signal: 9, OOMKilled: true}
	case "sleep":
		select {
		case sig := <-p.sig:
			p.status = protocol.ExitStatus{Code: 128 + sig, Signal: sig}
		case <-g.vm.done:
		}
	case "cat":
		copied := make(chan struct{})
		go func() {
			if in := streams[protocol.Stdin]; in != nil {
				io.Copy(streams[protocol.Stdout], in)
			}
			close(copied)
		}()
		select {
		case <-copied:
		case sig := <-p.sig:
			p.status = protocol.ExitStatus{Code: 128 + sig, Signal: sig}
		case <-g.vm.done:
		}
	}
	closeAll(streams)
	close(p.done)
}

// signal tells a process of sig; false if it has exited.
func (p *fakeProc) signal(sig int) bool {
	if isClosed(p.done) {
		return false
	}
	select {
	case p.sig <- sig:
	default: // one is pending already
	}
	return true
}

// kill ends a process: sig, then SIGKILL after grace, as the agent's
// StopContainer does.
func (p *fakeProc) kill(sig int, grace time.Duration) {
	if !p.signal(sig) {
		return
	}
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	p.signal(9)
	<-p.done
}

func (g *fakeGuest) stopContainer(req protocol.StopRequest) *protocol.Error {
	g.mu.Lock()
	c, err := g.container(req.Container)
	var procs []*fakeProc
	if err == nil {
		for _, p := range c.procs {
			procs = append(procs, p)
		}
	}
	g.mu.Unlock()
	if err != nil {
		return err
	}
	sig := req.Signal
	if sig == 0 {
		sig = 15
	}
	for _, p := range procs {
		p.kill(sig, time.Duration(req.GraceMillis)*time.Millisecond)
	}
	return nil
}

func (g *fakeGuest) removeContainer(id string) *protocol.Error {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.container(id)
	if err != nil {
		return err
	}
	for _, p := range c.procs {
		if !isClosed(p.done) {
			return conflict("container %s still has running processes", id)
		}
	}
	delete(g.ctrs, id)
	return nil
}

// powerOff is what follows a Shutdown's reply: every process is killed,
// then the VM ends.
func (g *fakeGuest) powerOff() {
	g.mu.Lock()
	var procs []*fakeProc
	for _, c := range g.ctrs {
		for _, p := range c.procs {
			procs = append(procs, p)
		}
	}
	g.mu.Unlock()
	for _, p := range procs {
		p.kill(9, 0)
	}
	g.vm.exit("powered off by the guest")
}

var _ hypervisor.DiskHotplugger = (*fakeVM)(nil)
