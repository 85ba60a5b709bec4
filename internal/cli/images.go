package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"
)

func newImagesCommand(h *cli) *cobra.Command {
	var quiet, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS]",
		Short: "List images",
		Long: `List the images in hyperd's store.

--format json prints one JSON object (the API's Image) per line; any other
--format is a Go template applied to each row ({{.Repository}}, {{.Tag}},
{{.ID}}, {{.Created}}, {{.Size}}).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			imgs, err := c.ListImages(cmd.Context())
			if err != nil {
				return err
			}
			out := h.streams.Out
			switch {
			case quiet:
				sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
				for _, img := range imgs {
					fmt.Fprintln(out, displayID(img.ID, noTrunc))
				}
				return nil
			case f.table():
				return writeImages(out, imgs, noTrunc, time.Now())
			case f.tmpl != nil:
				return writeLines(f, out, imageRows(imgs))
			}
			return writeLines(f, out, imgs)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "only print image IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "show full image IDs")
	fl.StringVar(&format, "format", "", "json, or a Go template")
	return cmd
}

func newRmiCommand(h *cli) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove images",
		Long: `Remove images, like docker rmi. Removing one of several names of an image
only untags it; removing its last name, or the image by ID, deletes it and
frees the blobs and root file system no other image uses.

An image a pod uses (in any state) is refused, naming the pod. With -f, an
image only stopped pods use is deleted (those pods cannot start again); an
image a running pod uses is never deleted: -f by name only untags it, by ID
it is refused.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			failed := 0
			for _, ref := range args {
				res, err := c.RemoveImageReport(cmd.Context(), ref, force)
				if err != nil {
					fmt.Fprintf(h.streams.Err, "hyperctl: %v\n", err)
					failed++
					continue
				}
				if len(res.Untagged) == 0 && res.Deleted == "" {
					res.Deleted = ref // an older hyperd does not say
				}
				printRemoved(h.streams.Out, res, false)
			}
			if failed > 0 {
				return &StatusError{Code: ExitError}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove an image used by stopped pods, or by ID one with several names (an image a running pod uses is only untagged)")
	return cmd
}

func newLoadCommand(h *cli) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive (docker save or OCI layout) or stdin",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = h.streams.In
			if input != "" && input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if isTerminal(h.streams.In) {
				return usageErrorf(cmd, "requested load from stdin, but stdin is a terminal: use -i FILE or redirect")
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			imgs, err := c.LoadImages(cmd.Context(), r)
			if err != nil {
				return err
			}
			if quiet {
				return nil
			}
			for _, img := range imgs {
				if len(img.Names) == 0 {
					fmt.Fprintf(h.streams.Out, "Loaded image ID: %s\n", img.ID)
				}
				for _, n := range img.Names {
					fmt.Fprintf(h.streams.Out, "Loaded image: %s\n", familiarName(n))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar file instead of stdin")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return cmd
}

func newSaveCommand(h *cli) *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save images to a tar archive (to stdout by default)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "docker" && format != "oci" {
				return usageErrorf(cmd, "invalid --format %q: want docker or oci", format)
			}
			if output == "" || output == "-" {
				if isTerminal(h.streams.Out) {
					return usageErrorf(cmd, "cowardly refusing to write a tar archive to a terminal: use -o FILE or redirect")
				}
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			rc, err := c.SaveImages(cmd.Context(), args, format)
			if err != nil {
				return err
			}
			defer rc.Close()
			if output == "" || output == "-" {
				_, err := io.Copy(h.streams.Out, rc)
				return err
			}
			return writeFileAtomic(output, rc)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file instead of stdout")
	cmd.Flags().StringVar(&format, "format", "docker", "archive format: docker (docker save) or oci (OCI layout)")
	return cmd
}

// writeFileAtomic writes r to a temporary file beside name and renames it
// into place only when all of it arrived.
func writeFileAtomic(name string, r io.Reader) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), name); err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}
