package sandbox

import "fmt"

// State is a pod's state. Its values are the words the API shows.
//
//	created ──▶ running ──▶ exited ──▶ running ...
//	   │           │          ▲
//	   │           └─▶ failed ┘ (the VM died)
//	   └─▶ failed (the start failed)
//	any ──▶ removed (final)
//
// A run that is booting (or a recorded running VM not yet re-attached)
// keeps the state it started from until it runs or fails: see
// Sandbox.Running.
type State string

// The pod states.
const (
	Created State = "created"
	Running State = "running"
	Exited  State = "exited"
	Failed  State = "failed"
	Removed State = "removed"
)

var podMoves = map[State][]State{
	Created: {Running, Failed, Removed},
	Running: {Exited, Failed, Removed},
	Exited:  {Running, Failed, Removed},
	Failed:  {Running, Failed, Removed},
}

// to moves the pod to state next, refusing (and logging: it is a bug) a
// move the state machine does not have. Called with mu held.
func (s *Sandbox) to(next State) error {
	if err := move(podMoves, s.st.state, next); err != nil {
		err = fmt.Errorf("pod %s: %w", s.spec.Name, err)
		s.log.Error("refused a state change", "err", err)
		return err
	}
	s.st.state = next
	return nil
}

// ctrTo moves container c to state next as c.to does, logging a refusal.
// Called with mu held.
func (s *Sandbox) ctrTo(c *container, next CtrState) {
	if err := c.to(next); err != nil {
		s.log.Error("refused a state change", "pod", s.spec.Name, "err", err)
	}
}

// CtrState is a container's state.
//
//	created ──▶ running ◀──▶ exited (restarts, new runs)
//	   └──────────────────▶ exited (the run ended before it started)
//	exited ──▶ created (an init container, at a new run)
type CtrState string

// The container states.
const (
	CtrCreated CtrState = "created"
	CtrRunning CtrState = "running"
	CtrExited  CtrState = "exited"
)

var ctrMoves = map[CtrState][]CtrState{
	CtrCreated: {CtrRunning, CtrExited},
	CtrRunning: {CtrExited},
	CtrExited:  {CtrRunning, CtrCreated},
}

// to moves container c to state next. Called with the sandbox's mu held.
func (c *container) to(next CtrState) error {
	if err := move(ctrMoves, c.status.State, next); err != nil {
		return fmt.Errorf("container %s: %w", c.spec.Name, err)
	}
	c.status.State = next
	return nil
}

func move[S ~string](moves map[S][]S, from, to S) error {
	for _, m := range moves[from] {
		if m == to {
			return nil
		}
	}
	return fmt.Errorf("illegal state change %s -> %s", from, to)
}
