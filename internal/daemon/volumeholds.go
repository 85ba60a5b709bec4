package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// volumeHolds are the named volumes attached to a VM now, each to one:
// ext4 is not a cluster filesystem. A hold lasts from the start of a pod's
// run until its VM is gone.
type volumeHolds struct {
	mu  sync.Mutex
	pod map[string]*pod // volume name -> the pod whose VM has it
	id  map[string]string
}

// holder describes who holds a volume: id "" if nobody.
type holder struct {
	id, name string
	running  bool // the pod's run is on (not just its VM powering off)
	gone     <-chan struct{}
}

func (h *volumeHolds) get(v string) holder {
	h.mu.Lock()
	p, ok := h.pod[v]
	id := h.id[v]
	h.mu.Unlock()
	if !ok {
		return holder{}
	}
	return holder{id: id, name: p.name(), running: p.sb.Running(), gone: p.sb.VMGone()}
}

// take holds v for p unless another pod holds it.
func (h *volumeHolds) take(v string, p *pod, id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if q, ok := h.pod[v]; ok && q != p {
		return false
	}
	if h.pod == nil {
		h.pod, h.id = map[string]*pod{}, map[string]string{}
	}
	h.pod[v], h.id[v] = p, id
	return true
}

func (h *volumeHolds) drop(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for v, held := range h.id {
		if held == id {
			delete(h.pod, v)
			delete(h.id, v)
		}
	}
}

// holdTimeout bounds the wait for a pod that has exited to power off and
// let go of a volume.
const holdTimeout = 60 * time.Second

// hold attaches named volume v to pod p (ID id). A pod whose run is
// on keeps it (Conflict); one that has exited and is powering off is
// waited for, so that runs one after the other share a volume.
func (vs *volumes) hold(ctx context.Context, v string, p *pod, id string) error {
	for !vs.holds.take(v, p, id) {
		if err := vs.awaitRelease(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// awaitRelease waits until no VM holds volume v: Conflict if a running
// pod does; a pod that has exited is waited for while its VM powers off.
func (vs *volumes) awaitRelease(ctx context.Context, v string) error {
	timeout := time.After(holdTimeout)
	for {
		h := vs.holds.get(v)
		switch {
		case h.id == "":
			return nil
		case h.running:
			return inUseError(v, h.name)
		}
		select {
		case <-h.gone:
		case <-timeout:
			return errdefs.Conflict("volume %s: pod %s has exited but its VM has not powered off", v, h.name)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// holdAttached holds the named volumes of a re-attached pod (its VM has
// them already).
func (vs *volumes) holdAttached(p *pod, rec record) {
	for _, pv := range rec.Volumes {
		if pv.Kind == protocol.MountDisk && !vs.holds.take(pv.Volume, p, rec.ID) {
			vs.log.Warn("re-attached pod shares a volume with another", "pod", rec.ID[:12], "volume", pv.Volume)
		}
	}
}

func inUseError(v, pod string) error {
	return errdefs.Conflict("volume %s is attached to running pod %s: a volume is used by one running pod at a time (ext4 is not a cluster filesystem)", v, pod)
}
