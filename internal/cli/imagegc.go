package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
)

// printRemoved prints what an rmi or a prune did, docker's way.
func printRemoved(w io.Writer, r types.ImageDeleteResponse, lower bool) {
	u, d := "Untagged: ", "Deleted: "
	if lower {
		u, d = "untagged: ", "deleted: "
	}
	for _, n := range r.Untagged {
		fmt.Fprintln(w, u+n)
	}
	if r.Deleted != "" {
		fmt.Fprintln(w, d+r.Deleted)
	}
}

func newTagCommand(h *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE TARGET_IMAGE[:TAG]",
		Short: "Give an image another name",
		Long: `Give the image SOURCE_IMAGE (a name or an ID) the name TARGET_IMAGE. A name
another image had moves to this one.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			return c.TagImage(cmd.Context(), args[0], args[1])
		},
	}
}

func newPushCommand(h *cli) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Push an image to a registry",
		Long: `Push the image named NAME[:TAG] (tag it first with 'hyperctl tag') to the
registry the name says. The stored manifest goes up unchanged, so the image
keeps its manifest digest.

As for pull, hyperd talks to the registry with the credentials of the docker
config of the user it runs as ('hyperctl login') and reaches the insecure
registries of its configuration over plain HTTP.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			out := h.streams.Out
			tty := isTerminal(out) && !quiet
			if !quiet {
				fmt.Fprintf(out, "The push refers to %s\n", args[0])
			}
			var progress func(types.PushEvent)
			if tty {
				progress = func(ev types.PushEvent) {
					if ev.Total > 0 {
						fmt.Fprintf(out, "\r\x1b[2KPushing %s/%s", humanSize(ev.Current), humanSize(ev.Total))
					}
				}
			}
			res, err := c.PushImage(cmd.Context(), args[0], progress)
			if tty {
				fmt.Fprint(out, "\r\x1b[2K")
			}
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(out, res.Digest)
				return nil
			}
			fmt.Fprintf(out, "%s: digest: %s size: %d\n", res.Name, res.Digest, res.Size)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the manifest digest")
	return cmd
}

// newImageCommand is "image": for now, prune.
func newImageCommand(h *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image COMMAND",
		Short: "Manage images",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImagePruneCommand(h))
	return cmd
}

func newImagePruneCommand(h *cli) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Long: `Remove the dangling images (without a name) no pod uses, or with -a every
image no pod uses (running or not), then the blobs and root file systems no
image needs any more. Asks first unless -f.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				what := "all dangling images"
				if all {
					what = "all images without at least one pod associated to them"
				}
				fmt.Fprintf(h.streams.Out, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
				line, _ := bufio.NewReader(h.streams.In).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					fmt.Fprintln(h.streams.Out)
					return nil
				}
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			res, err := c.PruneImages(cmd.Context(), all)
			if err != nil {
				return err
			}
			out := h.streams.Out
			if len(res.Images) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
				for _, r := range res.Images {
					printRemoved(out, r, true)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(res.Reclaimed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// newSystemCommand is "system": for now, df.
func newSystemCommand(h *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system COMMAND",
		Short: "Manage hyperd",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSystemDFCommand(h), newSystemPruneCommand(h))
	return cmd
}

func newSystemDFCommand(h *cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show the disk space the image store uses",
		Long: `Show the disk space of hyperd's image store, as allocated on disk (sparse
files count what they store; files shared by several images count once):

  Images  the images (ACTIVE: used by a pod) with their blobs and root
          file systems; RECLAIMABLE is what 'image prune -a' would free
  Rootfs  the EROFS root file systems on disk (built on first use)
  Blobs   the manifests, configs and layers on disk

--format json prints the API's DiskUsage; any other --format is a Go
template applied to it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			du, err := c.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			return f.object(h.streams.Out, du, func() error { return writeDiskUsage(h.streams.Out, du) })
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "json, or a Go template")
	return cmd
}

func writeDiskUsage(w io.Writer, du types.DiskUsage) error {
	tw := tabwriter.NewWriter(w, 0, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	for _, r := range []struct {
		name string
		u    types.DiskUsageEntry
	}{{"Images", du.Images}, {"Rootfs", du.Rootfs}, {"Blobs", du.Blobs}} {
		pct := 0
		if r.u.Size > 0 {
			pct = int(r.u.Reclaimable * 100 / r.u.Size)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s (%d%%)\n", r.name, r.u.Count, r.u.Active, humanSize(r.u.Size), humanSize(r.u.Reclaimable), pct)
	}
	return tw.Flush()
}
