package sandbox

import (
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/vm"
)

// vmEndWait bounds how long a failed guest call waits to learn whether
// the VM is ending: the guest drops its session just before it powers
// off.
const vmEndWait = 5 * time.Second

// cutShort classifies err, from a guest call made on the run's VM v:
// when v ended under the call (the pod stopped or its VM died meanwhile),
// the pod is no longer running, a Conflict as if the call had come a
// moment later, not a guest failure. Other errors are returned as they
// are.
func (s *Sandbox) cutShort(v *vm.VM, err error) error {
	// A kind other than Unavailable is the guest's (or hypervisor's)
	// own answer; Unavailable is also a session or monitor that closed.
	if k := errdefs.Kind(err); err == nil || k != nil && k != errdefs.ErrUnavailable {
		return err
	}
	select {
	case <-v.Done():
		return errdefs.Conflict("pod %s stopped during the call: %v", s.spec.Name, err)
	case <-time.After(vmEndWait):
		return err
	}
}
