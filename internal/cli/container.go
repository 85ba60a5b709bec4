package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
)

// podOnlyFlags are create's flags that describe a whole pod: they have no
// meaning for a container added to one with -c.
var podOnlyFlags = []string{"hostname", "cpus", "memory", "pod", "publish", "network", "dns", "dns-search", "dns-option", "rm"}

// addContainerFlag gives create its -c POD: add the container to POD.
func addContainerFlag(cmd *cobra.Command, pod *string) {
	cmd.Flags().StringVarP(pod, "add-to", "c", "", "add the container to the existing POD (running or not) instead of creating a pod; prints the container's name")
}

// addContainer adds IMAGE [CMD...] as a container of pod, as create -c
// does: --name names the container (default POD-N), -l labels it.
func (h *cli) addContainer(ctx context.Context, cmd *cobra.Command, o *runOptions, pod string, args []string) error {
	for _, f := range podOnlyFlags {
		if cmd.Flags().Changed(f) {
			return usageErrorf(cmd, "--%s describes a pod: it does not go with -c (adding a container)", f)
		}
	}
	spec, err := o.podSpec(args[0], args[1:])
	if err != nil {
		return err
	}
	cs := spec.Containers[0]
	cs.Name, cs.Labels = o.name, spec.Labels
	c, err := h.client()
	if err != nil {
		return err
	}
	if _, err := c.GetPod(ctx, pod); err != nil { // "no such pod" is not a missing image to pull
		return err
	}
	added, err := h.pulling(ctx, c, o, []string{cs.Image}, func() (types.CreateResponse, error) {
		return c.AddContainer(ctx, pod, cs)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(h.streams.Out, added.ID)
	return nil
}

// removeContainers is rm -c POD CONTAINER...
func (h *cli) removeContainers(ctx context.Context, args []string, force bool) error {
	c, err := h.client()
	if err != nil {
		return err
	}
	pod := args[0]
	return h.forEach(args[1:], func(name string) error { return c.RemoveContainer(ctx, pod, name, force) })
}
