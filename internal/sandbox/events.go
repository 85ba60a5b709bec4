package sandbox

// EventKind is what happened to a container of the sandbox.
type EventKind string

// The container events a sandbox reports.
const (
	// EventStart: the container's main process started (a pod's start, a
	// container added to a running pod, a restart by its policy).
	EventStart EventKind = "start"
	// EventOOM: the guest's OOM killer killed a process of the container;
	// its EventDie follows.
	EventOOM EventKind = "oom"
	// EventDie: the container's main process exited (ExitCode), or the
	// VM died under it (137).
	EventDie EventKind = "die"
	// EventVMExit: the run's VM is gone (Container is empty), for
	// VMExit's reason.
	EventVMExit EventKind = "vm-exit"
)

// Why a run's VM ended (Event.VMExit).
const (
	// VMExitClean: every main process exited (or the pod was stopped)
	// and the VM powered off.
	VMExitClean = "exited"
	// VMExitRemoved: a forced removal ended the running VM.
	VMExitRemoved = "removed"
	// VMExitGuestError: the guest broke its channel, and the host
	// killed the VM.
	VMExitGuestError = "guest_error"
	// VMExitDied: the hypervisor ended on its own (crashed, killed from
	// outside, or the guest powered off).
	VMExitDied = "vm_died"
)

// Event is one container event of a sandbox.
type Event struct {
	Kind      EventKind
	Container string
	Image     string // the container's ContainerSpec.Image
	ExitCode  int    // EventDie
	// Restarts is the container's restart count after an EventStart.
	Restarts int
	// VMExit is why the VM ended (EventVMExit): a VMExit* value.
	VMExit string
}

// Sink receives a sandbox's events, in order, from the goroutine where
// they happen. It is called with no lock held and must not block (hand
// the event on and return); nil drops them.
type Sink func(Event)

// emit hands evs to the spec's sink. Called without mu.
func (s *Sandbox) emit(evs ...Event) {
	if s.spec.Events == nil {
		return
	}
	for _, e := range evs {
		s.spec.Events(e)
	}
}

// exitEvents are the events of container c's exit with code (and an
// OOM kill if oom).
func exitEvents(c *container, code int, oom bool) []Event {
	die := Event{Kind: EventDie, Container: c.spec.Name, Image: c.spec.Image, ExitCode: code}
	if oom {
		return []Event{{Kind: EventOOM, Container: c.spec.Name, Image: c.spec.Image}, die}
	}
	return []Event{die}
}

// startEvent is the event of container c's start. Called with mu held
// (c.status).
func startEvent(c *container) Event {
	return Event{Kind: EventStart, Container: c.spec.Name, Image: c.spec.Image, Restarts: c.status.RestartCount}
}
