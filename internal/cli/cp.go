package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

type cpOptions struct {
	archive bool
	follow  bool
}

func newCpCommand(h *cli) *cobra.Command {
	o := &cpOptions{}
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] POD[/CONTAINER]:SRC_PATH DEST_PATH|-\n  hyperctl cp [OPTIONS] SRC_PATH|- POD[/CONTAINER]:DEST_PATH",
		Short: "Copy files between a running pod's container and the local filesystem",
		Long: `Copy files or directories between a container of a running pod and the
local filesystem, with docker cp's rules: a directory is copied into an
existing directory, or becomes the destination if that does not exist;
SRC_PATH ending in "/." copies the directory's contents; "-" reads or writes
a tar archive on stdin or stdout. Paths in the container are resolved in
its root filesystem (its symlinks never lead out of it); volumes mounted in
the container are not seen. The pod must be running (its VM does the copy).`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return h.cp(cmd.Context(), o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.archive, "archive", "a", false, "archive mode: keep uid/gid")
	f.BoolVarP(&o.follow, "follow-link", "L", false, "always follow a symlink in SRC_PATH")
	return cmd
}

// cpTarget is one side of a cp: a local path, or a path in a container.
type cpTarget struct {
	pod, container, path string
}

// parseCpArg splits "POD[/CONTAINER]:PATH"; a local path has no pod. As
// docker, a path that starts with "/" or "." (or has no ":") is local.
func parseCpArg(arg string) cpTarget {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return cpTarget{path: arg}
	}
	ref, p, ok := strings.Cut(arg, ":")
	if !ok || strings.Contains(ref, string(os.PathSeparator)+string(os.PathSeparator)) {
		return cpTarget{path: arg}
	}
	pod, ctr, _ := strings.Cut(ref, "/")
	return cpTarget{pod: pod, container: ctr, path: p}
}

func (h *cli) cp(ctx context.Context, o *cpOptions, srcArg, dstArg string) error {
	src, dst := parseCpArg(srcArg), parseCpArg(dstArg)
	switch {
	case src.pod != "" && dst.pod != "":
		return errors.New("copying between containers is not supported")
	case src.pod == "" && dst.pod == "":
		return errors.New("must specify at least one container source")
	case src.pod != "":
		return h.cpFrom(ctx, o, src, dst.path)
	default:
		return h.cpTo(ctx, o, src.path, dst)
	}
}

func containerPath(p string) string {
	if !path.IsAbs(p) {
		p = "/" + p // relative to the container's root, as docker's default workdir
	}
	return p
}

// cpFrom copies from a container to dst.
func (h *cli) cpFrom(ctx context.Context, o *cpOptions, src cpTarget, dst string) error {
	c, err := h.client()
	if err != nil {
		return err
	}
	body, st, err := c.GetArchive(ctx, src.pod, src.container, containerPath(src.path), o.follow)
	if err != nil {
		return err
	}
	defer body.Close()
	if dst == "-" {
		_, err := io.Copy(h.streams.Out, body)
		return err
	}
	srcDir := st.Mode.IsDir()
	contents := st.Name == "."
	eo := extractOptions{keepOwners: o.archive, warn: h.streams.Err}
	target := dst
	fi, err := os.Stat(dst)
	switch {
	case err == nil && fi.IsDir():
	case err == nil:
		if srcDir {
			return fmt.Errorf("cannot copy a directory to a file: %s", dst)
		}
		target, eo.renameFrom, eo.renameTo = filepath.Dir(dst), st.Name, filepath.Base(dst)
	case errors.Is(err, os.ErrNotExist):
		if strings.HasSuffix(dst, string(os.PathSeparator)) && !srcDir {
			return fmt.Errorf("destination directory %s does not exist", dst)
		}
		if contents {
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
		} else {
			target, eo.renameFrom, eo.renameTo = filepath.Dir(filepath.Clean(dst)), st.Name, filepath.Base(dst)
		}
	default:
		return err
	}
	root, err := os.OpenRoot(target)
	if err != nil {
		return err
	}
	defer root.Close()
	return extractTar(root, body, eo)
}

// cpTo copies src to a container.
func (h *cli) cpTo(ctx context.Context, o *cpOptions, src string, dst cpTarget) error {
	c, err := h.client()
	if err != nil {
		return err
	}
	dstPath := containerPath(dst.path)
	opts := types.ArchiveOptions{CopyUIDGID: o.archive, NoOverwriteDirNonDir: true}
	if src == "-" {
		return c.PutArchive(ctx, dst.pod, dst.container, dstPath, opts, h.streams.In)
	}
	stat := os.Lstat
	if o.follow {
		stat = os.Stat
	}
	fi, err := stat(src)
	if err != nil {
		return err
	}
	srcDir := fi.IsDir()
	name := filepath.Base(src)
	if strings.HasSuffix(src, string(os.PathSeparator)+".") {
		name = ""
	}
	putDir := dstPath
	dstStat, err := c.StatPath(ctx, dst.pod, dst.container, dstPath)
	switch {
	case err == nil && dstStat.Mode.IsDir():
	case err == nil:
		if srcDir {
			return fmt.Errorf("cannot copy a directory to a file: %s", dst.path)
		}
		putDir, name = path.Dir(dstPath), path.Base(dstPath)
	case errors.Is(err, errdefs.ErrNotFound):
		if strings.HasSuffix(dstPath, "/") && !srcDir {
			return fmt.Errorf("destination directory %s does not exist", dst.path)
		}
		putDir, name = path.Dir(path.Clean(dstPath)), path.Base(dstPath)
	default:
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, src, name, o.follow)) }()
	err = c.PutArchive(ctx, dst.pod, dst.container, putDir, opts, pr)
	pr.CloseWithError(errors.New("copy ended"))
	return err
}

func newDiffCommand(h *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "diff POD[/CONTAINER]",
		Short: "Show the changes of a running pod's container to its image's files",
		Long: `List the files and directories changed in a container's writable layer
as docker diff does: A added, C changed, D deleted. The pod must be running.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pod, ctr, _ := strings.Cut(args[0], "/")
			c, err := h.client()
			if err != nil {
				return err
			}
			changes, err := c.Changes(cmd.Context(), pod, ctr)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				k := "C"
				switch ch.Kind {
				case types.ChangeAdd:
					k = "A"
				case types.ChangeDelete:
					k = "D"
				}
				fmt.Fprintf(h.streams.Out, "%s %s\n", k, ch.Path)
			}
			return nil
		},
	}
}

func newExportCommand(h *cli) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] POD[/CONTAINER]",
		Short: "Export a running pod's container's root filesystem as a tar archive",
		Long: `Write a tar archive of a container's whole root filesystem (its image's
files with the container's changes) to stdout or a file, as docker export
does. Volumes mounted in the container are not included. The pod must be
running.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pod, ctr, _ := strings.Cut(args[0], "/")
			out := h.streams.Out
			if output == "" && isTerminal(out) {
				return errors.New("cowardly refusing to write a tar archive to a terminal: use -o or redirect")
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			body, _, err := c.GetArchive(cmd.Context(), pod, ctr, "/", false)
			if err != nil {
				return err
			}
			defer body.Close()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			if _, err := io.Copy(out, body); err != nil {
				return fmt.Errorf("exporting %s: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file instead of stdout")
	return cmd
}

func newImportCommand(h *cli) *cobra.Command {
	var changes []string
	var message string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- REPO[:TAG]",
		Short: "Import a tarball's contents as a one-layer image",
		Long: `Make a one-layer image of a tarball (plain or gzip-compressed) of a root
filesystem, as docker import does, and load it into hyperd's image store.
The image needs a name (docker allows none). --change takes CMD, ENTRYPOINT,
ENV, LABEL, WORKDIR, USER, EXPOSE and STOPSIGNAL; URLs are not fetched.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = h.streams.In
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.printImageIDs(c.ImportImage(cmd.Context(), in, args[1], message, changes))
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&changes, "change", "c", nil, changeHelp)
	f.StringVarP(&message, "message", "m", "", "commit message of the image's history")
	return cmd
}

func newCommitCommand(h *cli) *cobra.Command {
	var o types.CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] POD[/CONTAINER] REPO[:TAG]",
		Short: "Create a new image from a running pod's container's changes",
		Long: `Make a container's writable layer a new layer on top of its image, as
docker commit does, and add the image to hyperd's image store. The image
needs a name (docker allows none). The container is not paused (docker's
--pause): changes written during the commit may be half in it. --change
takes CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE and STOPSIGNAL.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pod, ctr, _ := strings.Cut(args[0], "/")
			o.Repo = args[1]
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.printImageIDs(c.Commit(cmd.Context(), pod, ctr, o))
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Changes, "change", "c", nil, changeHelp)
	f.StringVarP(&o.Comment, "message", "m", "", "commit message")
	f.StringVarP(&o.Author, "author", "a", "", "author (\"Name <email>\")")
	return cmd
}

const changeHelp = "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL)"

// printImageIDs prints the IDs of the images an import or commit made.
func (h *cli) printImageIDs(ims []types.Image, err error) error {
	if err != nil {
		return err
	}
	for _, im := range ims {
		fmt.Fprintln(h.streams.Out, im.ID)
	}
	return nil
}
