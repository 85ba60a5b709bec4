package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// newWaitCommand is `hyperctl wait`: it blocks until each pod has stopped
// and prints its exit code (the main container's), one a line, as docker
// does.
func newWaitCommand(h *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "wait POD [POD...]",
		Short: "Block until pods stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.forEachResult(args, func(id string) (string, error) {
				w, err := c.Wait(cmd.Context(), id, nil)
				if err != nil {
					return "", err
				}
				return strconv.Itoa(w.ExitCode), nil
			})
		},
	}
}

// newRestartCommand is `hyperctl restart`: stop (as `stop -t` does) then
// start each pod, printing its name.
func newRestartCommand(h *cli) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] POD [POD...]",
		Short: "Restart pods: stop them (SIGTERM, SIGKILL after a grace period), then start them",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			timeout, err := stopTimeout(cmd, seconds)
			if err != nil {
				return err
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.forEach(args, func(id string) error {
				if err := c.StopPod(cmd.Context(), id, timeout); err != nil {
					return err
				}
				return c.StartPod(cmd.Context(), id)
			})
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "seconds to wait before killing")
	return cmd
}

// newRenameCommand is `hyperctl rename POD NEW_NAME`.
func newRenameCommand(h *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "rename POD NEW_NAME",
		Short: "Rename a pod",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			return c.RenamePod(cmd.Context(), args[0], args[1])
		},
	}
}

// stopTimeout is the grace period of stop's and restart's --time flag
// (given as seconds): -1, the server's default, unless the flag is set.
func stopTimeout(cmd *cobra.Command, seconds int) (time.Duration, error) {
	if !cmd.Flags().Changed("time") {
		return -1, nil
	}
	if seconds < 0 {
		return 0, usageErrorf(cmd, "invalid --time %d: want 0 or more seconds", seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}
