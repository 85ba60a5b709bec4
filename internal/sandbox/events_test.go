package sandbox

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// eventLog records a sandbox's events.
type eventLog struct {
	mu      sync.Mutex
	evs     []string
	vmExits []string
}

func (l *eventLog) sink(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Kind == EventVMExit { // after the run's end: kept apart
		l.vmExits = append(l.vmExits, e.VMExit)
		return
	}
	s := fmt.Sprintf("%s %s", e.Kind, e.Container)
	switch e.Kind {
	case EventDie:
		s += fmt.Sprintf(" %d", e.ExitCode)
	case EventStart:
		s += fmt.Sprintf(" r%d", e.Restarts)
	}
	l.evs = append(l.evs, s)
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.evs)
}

func (l *eventLog) vmExit() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.vmExits)
}

func TestEventsStartDie(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "img1", "exit", "3"), ctr("b", "img1", "sleep"))
	var log eventLog
	h.sb.spec.Events = log.sink
	h.start()
	h.eventually(func() bool { return h.sb.Status().Containers[0].State == CtrExited }, "a's exit")
	if err := h.sb.Stop(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	if got != "[start a r0 start b r0 die a 3 die b 143]" {
		t.Fatalf("events: %s", got)
	}
}

func TestEventsOOMAndRestart(t *testing.T) {
	c := ctr("a", "img1", "oom")
	c.RestartPolicy = "onFailure:1"
	h := newHarness(t, nil, c)
	var log eventLog
	h.sb.spec.Events = log.sink
	h.start()
	h.wait(h.sb.Exited(), "the run's end")
	if got := log.String(); got != "[start a r0 oom a die a 137 start a r1 oom a die a 137]" {
		t.Fatalf("events: %s", got)
	}
	if st := h.sb.Status().Containers[0]; !st.OOMKilled || st.ExitCode != 137 {
		t.Fatalf("status: %+v", st)
	}
}

func TestEventsVMDeath(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "img1", "sleep"))
	var log eventLog
	h.sb.spec.Events = log.sink
	h.start()
	h.drv.last().Kill()
	h.wait(h.sb.Exited(), "the run's end")
	if got := log.String(); got != "[start a r0 die a 137]" {
		t.Fatalf("events: %s", got)
	}
	h.eventually(func() bool { return log.vmExit() == "[vm_died]" }, "the vm-exit event")
}

func TestEventsCleanExitAndBoot(t *testing.T) {
	h := newHarness(t, nil, ctr("a", "img1", "exit", "0"))
	var log eventLog
	h.sb.spec.Events = log.sink
	h.start()
	h.eventually(func() bool { return log.vmExit() == "[exited]" }, "the vm-exit event")
	if b := h.sb.Status().Boot; b != BootCold {
		t.Fatalf("boot %q", b)
	}
}
