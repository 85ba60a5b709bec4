package daemon

import (
	"io"
	"slices"
	"sync"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Pod states (types.State*), plus "starting" which is never stored.
const (
	stateCreated = types.StateCreated
	stateRunning = types.StateRunning
	stateExited  = types.StateExited
	stateFailed  = types.StateFailed
)

// record is what the store keeps of a pod.
type record struct {
	types.Pod
	Dir string `json:"dir"`
	// Procs are the containers' main processes, resolved against their
	// images at create time.
	Procs []protocol.ProcessSpec `json:"procs"`
	// InitProcs are the init containers' processes, likewise.
	InitProcs []protocol.ProcessSpec `json:"initProcs,omitempty"`
	// VMID names the VM (short: it is part of socket paths).
	VMID string `json:"vmId"`
	// Volumes are how the pod's volumes reach its VM.
	Volumes []podVolume `json:"volumes,omitempty"`
	// Serials maps the image IDs of the current (or last) run's VM to
	// their disks' serials (runSerials; nil in an older hyperd's records).
	Serials map[string]string `json:"serials,omitempty"`
}

// pod is a pod's record plus what exists only while the daemon runs.
type pod struct {
	mu       sync.Mutex
	rec      record
	starting bool
	// removing is set once a removal has begun: no new run may start.
	removing bool
	vm       *vm.VM
	// changing serializes adding and removing containers (containers.go).
	changing sync.Mutex
	// refs holds the current run while containers are supervised, added
	// or removed (containers.go).
	refs *runRefs
	ctrs []*ctr
	// outs carry each container's output to attached clients, across runs.
	outs []*fanout
	// exited is closed when the current (or next, before the first
	// start) run ends.
	exited chan struct{}
	// restarted is closed when a new run of an exited pod begins.
	restarted chan struct{}
	// vmGone is closed once the last run's VM has powered off.
	vmGone chan struct{}
	// initDone[i] is closed when init container i's run ended (its logs
	// are complete).
	initDone []chan struct{}
	// stopping is set by Stop: no container restarts any more in this
	// run; stopCh is closed then, cutting restart back-offs short.
	stopping bool
	stopCh   chan struct{}
}

// stop marks the run as stopping. Called with p.mu held.
func (p *pod) stop() {
	if !p.stopping {
		p.stopping = true
		close(p.stopCh)
	}
}

// closeInits closes the init containers' done channels not yet closed.
// Called with p.mu held.
func (p *pod) closeInits() {
	for _, ch := range p.initDone {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

// ctr is the I/O of one container's main process for one run.
type ctr struct {
	stdinR *io.PipeReader // nil unless the container has OpenStdin
	stdinW *io.PipeWriter
	proc   *guest.Process
	done   chan struct{} // closed when the process exited and its output was delivered
	// delivered is closed once the current process's output was
	// delivered (restarts wait for it: the log keeps its order).
	delivered chan struct{}
	// removed is closed when the container's removal from the running
	// pod begins: it is not restarted any more. ended is closed when its
	// supervision ended (nil: not supervised in this run).
	removed chan struct{}
	ended   chan struct{}
}

func newCtr(openStdin bool) *ctr {
	c := &ctr{done: make(chan struct{}), removed: make(chan struct{})}
	if openStdin {
		c.stdinR, c.stdinW = io.Pipe()
	}
	return c
}

func newPod(rec record) *pod {
	p := &pod{rec: rec, exited: make(chan struct{}), restarted: make(chan struct{}), vmGone: make(chan struct{}),
		stopCh: make(chan struct{})}
	close(p.vmGone)
	for range rec.Spec.InitContainers {
		p.initDone = append(p.initDone, make(chan struct{}))
	}
	for _, cs := range rec.Spec.Containers {
		p.outs = append(p.outs, &fanout{})
		c := newCtr(cs.OpenStdin)
		if rec.State == stateExited || rec.State == stateFailed {
			close(c.done)
		}
		p.ctrs = append(p.ctrs, c)
	}
	if rec.State == stateExited || rec.State == stateFailed {
		close(p.exited)
	}
	if rec.State != stateCreated { // a recovered running pod's inits are done
		p.closeInits()
	}
	return p
}

func (p *pod) name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rec.Name
}

func (p *pod) snapshot() types.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rec.clone().Pod
}

// clone copies what is changed in place under p.mu (the containers'
// states), so that the copy can be read without the lock.
func (r record) clone() record {
	r.Containers = slices.Clone(r.Containers)
	r.InitContainers = slices.Clone(r.InitContainers)
	return r
}

// ctrIndex finds a container by name; "" is the first.
func (p *pod) ctrIndex(name string) (int, bool) {
	if name == "" {
		return 0, len(p.rec.Containers) > 0
	}
	for i, c := range p.rec.Containers {
		if c.Name == name {
			return i, true
		}
	}
	return 0, false
}

// initIndex finds an init container by name.
func (p *pod) initIndex(name string) (int, bool) {
	for i, c := range p.rec.InitContainers {
		if c.Name == name {
			return i, true
		}
	}
	return 0, false
}

// fanout copies a process's output to the attached clients. Writes are
// synchronous: a slow client slows the process (through the guest's flow
// control), it never makes the daemon buffer.
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
