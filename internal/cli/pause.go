package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/client"
)

func newPauseCommand(h *cli) *cobra.Command {
	return pauseCommand(h, "pause", "Pause pods: their VMs stopped (no CPU used, memory kept)",
		(*client.Client).PausePod)
}

func newUnpauseCommand(h *cli) *cobra.Command {
	return pauseCommand(h, "unpause", "Unpause pods: their VMs run again", (*client.Client).UnpausePod)
}

// pauseCommand runs op on each pod, printing its name as docker does.
func pauseCommand(h *cli, name, short string, op func(*client.Client, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   name + " POD [POD...]",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.forEach(args, func(id string) error { return op(c, cmd.Context(), id) })
		},
	}
}
