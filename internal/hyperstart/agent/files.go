package agent

import (
	"errors"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/inroot"
	"github.com/hyperhq/hyper/internal/hyperstart/passwd"
	"github.com/hyperhq/hyper/internal/protocol"
)

// validateFiles checks a container's files before anything is set up.
func validateFiles(files []protocol.FileSpec) error {
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) == "/" || strings.IndexByte(f.Path, 0) >= 0 {
			return errs.Invalid("file path %q: want an absolute path to a file", f.Path)
		}
		if f.Mode > 0o7777 {
			return errs.Invalid("file %s: bad mode %#o", f.Path, f.Mode)
		}
		if strings.ContainsAny(f.User, ":\x00") || strings.ContainsAny(f.Group, ":\x00") {
			return errs.Invalid("file %s: bad owner %q:%q", f.Path, f.User, f.Group)
		}
	}
	return nil
}

// writeFiles writes a container's files into its root filesystem, owners
// resolved against the image's /etc/passwd and /etc/group (read inside
// the root: the image's symlinks cannot point them elsewhere).
func writeFiles(rootfs string, files []protocol.FileSpec) error {
	if len(files) == 0 {
		return nil
	}
	r, err := inroot.Open(rootfs)
	if err != nil {
		return errs.Internal("%w", err)
	}
	defer r.Close()
	var users []passwd.User
	var groups []passwd.Group
	if err := readImageFile(r, "/etc/passwd", func(f *os.File) (err error) { users, err = passwd.ParsePasswd(f); return }); err != nil {
		return err
	}
	if err := readImageFile(r, "/etc/group", func(f *os.File) (err error) { groups, err = passwd.ParseGroup(f); return }); err != nil {
		return err
	}
	for _, f := range files {
		spec := f.User
		if f.Group != "" {
			spec += ":" + f.Group
		}
		owner, err := passwd.Resolve(spec, nil, users, groups)
		if err != nil {
			return errs.Invalid("file %s: owner: %w", f.Path, err)
		}
		err = r.WriteFile(inroot.File{Path: f.Path, Content: f.Content, Mode: f.Mode, UID: owner.UID, GID: owner.GID})
		if err != nil {
			return errs.Invalid("file %s: %w", f.Path, err)
		}
	}
	return nil
}

// readImageFile parses a file of the image with parse; a missing one is
// not parsed.
func readImageFile(r *inroot.Root, name string, parse func(*os.File) error) error {
	f, err := r.OpenRegular(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errs.Invalid("image's %s: %w", name, err)
	}
	defer f.Close()
	if err := parse(f); err != nil {
		return errs.Invalid("image's %s: %w", name, err)
	}
	return nil
}

// remountReadOnly makes the container's root read-only once its files
// are written.
func remountReadOnly(dir string) error {
	if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return errs.Internal("remounting %s read-only: %w", dir, err)
	}
	return nil
}
