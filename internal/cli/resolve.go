package cli

import (
	"context"

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
