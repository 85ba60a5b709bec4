package cli

import (
	"context"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// refHelp is how per-container commands name their target (hyperd
// resolves it: GET /v1/containers/{ref}).
const refHelp = `POD is a pod's name, ID or unique ID prefix; a container's name (unique
across pods) or POD/CONTAINER names one container, as -c does.`

// resolveContainer finds the pod and the container spec that ref (and -c's
// container, or "") name; per-container commands that need the pod before
// they act (attach, top, stats, cp) share it.
func (h *cli) resolveContainer(ctx context.Context, c *client.Client, ref, container string) (types.Pod, types.ContainerSpec, error) {
	r, err := c.ResolveContainer(ctx, ref, container)
	if err != nil {
		return types.Pod{}, types.ContainerSpec{}, err
	}
	pod, err := c.GetPod(ctx, r.PodID)
	if err != nil {
		return types.Pod{}, types.ContainerSpec{}, err
	}
	for _, cs := range pod.Spec.Containers {
		if cs.Name == r.Container {
			return pod, cs, nil
		}
	}
	for _, cs := range pod.Spec.InitContainers {
		if cs.Name == r.Container {
			return pod, cs, nil
		}
	}
	return types.Pod{}, types.ContainerSpec{}, errdefs.NotFound("pod %s has no container %q", ref, r.Container)
}

// containerExit is the exit code of container name of pod, once it has
// exited (its state may take a moment to follow the end of its output).
func containerExit(ctx context.Context, c *client.Client, pod, name string) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := c.GetPod(ctx, pod)
		if err != nil {
			return 0, err
		}
		for _, ct := range p.Containers {
			if ct.Name == name && (ct.State != types.StateRunning || time.Now().After(deadline)) {
				return ct.ExitCode, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
