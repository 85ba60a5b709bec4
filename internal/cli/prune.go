package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newSystemPruneCommand(h *cli) *cobra.Command {
	var all, volumes, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove pods that do not run, unused images and, with --volumes, unused volumes",
		Long: `Remove every pod that does not run (created, exited or failed), then the
dangling images no pod uses (every image no pod uses with -a), then with
--volumes every volume no pod uses. Asks first unless -f.

Total reclaimed space counts the pods' directories and the images' files on
hyperd's disk; a volume's disk is not counted.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := h.streams.Out
			if !force {
				fmt.Fprintln(out, "WARNING! This will remove:\n  - all pods that are not running")
				if volumes {
					fmt.Fprintln(out, "  - all volumes not used by at least one pod")
				}
				if all {
					fmt.Fprintln(out, "  - all images without at least one pod associated to them")
				} else {
					fmt.Fprintln(out, "  - all dangling images")
				}
				fmt.Fprint(out, "\nAre you sure you want to continue? [y/N] ")
				line, _ := bufio.NewReader(h.streams.In).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					fmt.Fprintln(out)
					return nil
				}
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pods, err := c.PrunePods(ctx)
			if err != nil {
				return err
			}
			if len(pods.Deleted) > 0 {
				fmt.Fprintln(out, "Deleted Pods:")
				for _, id := range pods.Deleted {
					fmt.Fprintln(out, id)
				}
				fmt.Fprintln(out)
			}
			if volumes {
				vols, err := c.ListVolumes(ctx)
				if err != nil {
					return err
				}
				var deleted []string
				for _, v := range vols {
					if len(v.UsedBy) > 0 {
						continue
					}
					if err := c.RemoveVolume(ctx, v.Name); err != nil {
						fmt.Fprintf(h.streams.Err, "hyperctl: volume %s: %v\n", v.Name, err)
						continue
					}
					deleted = append(deleted, v.Name)
				}
				if len(deleted) > 0 {
					fmt.Fprintln(out, "Deleted Volumes:")
					for _, n := range deleted {
						fmt.Fprintln(out, n)
					}
					fmt.Fprintln(out)
				}
			}
			imgs, err := c.PruneImages(ctx, all)
			if err != nil {
				return err
			}
			if len(imgs.Images) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
				for _, r := range imgs.Images {
					printRemoved(out, r, true)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(pods.Reclaimed+imgs.Reclaimed))
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	f.BoolVar(&volumes, "volumes", false, "remove unused volumes too")
	f.BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}
