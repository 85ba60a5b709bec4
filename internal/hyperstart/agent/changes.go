package agent

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// maxChangeBytes bounds the paths of one ChangesResult (it must fit a frame).
const maxChangeBytes = 512 << 10

// Changes lists a container's writable layer against its image, as
// docker diff does: overlay whiteouts (0/0 character devices) are
// deletions, other entries additions or, when the image has the path,
// changes.
func (a *Agent) Changes(_ context.Context, ref protocol.ContainerRef) (protocol.ChangesResult, error) {
	res := protocol.ChangesResult{Changes: []protocol.Change{}}
	c, err := a.containerFiles(ref.Container)
	if err != nil {
		return res, err
	}
	if c.scratch == "" {
		return res, nil // a read-only root has no writable layer
	}
	a.imgMu.Lock()
	img, ok := a.images[c.serial]
	a.imgMu.Unlock()
	if !ok {
		return res, errs.Internal("container %s: image disk %s not mounted", c.id, c.serial)
	}
	lower, err := unix.Open(img.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return res, errs.Internal("opening image %s: %w", img.dir, err)
	}
	defer unix.Close(lower)
	upper := filepath.Join(c.scratch, "upper")
	size := 0
	errFull := errors.New("full")
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		if rel == "." {
			return nil
		}
		ch := protocol.Change{Path: "/" + rel, Kind: protocol.ChangeAdd}
		if d.Type()&fs.ModeCharDevice != 0 {
			var st unix.Stat_t
			if unix.Lstat(p, &st) == nil && st.Rdev == 0 {
				ch.Kind = protocol.ChangeDelete
			}
		}
		if ch.Kind != protocol.ChangeDelete && inLower(lower, rel) {
			ch.Kind = protocol.ChangeModify
		}
		if size += len(ch.Path) + 32; size > maxChangeBytes || len(res.Changes) >= protocol.MaxChanges {
			res.Truncated = true
			return errFull
		}
		res.Changes = append(res.Changes, ch)
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return res, errs.Internal("reading the writable layer of %s: %w", c.id, err)
	}
	return res, nil
}

// inLower tells whether the image has rel, never following its symlinks.
func inLower(lower int, rel string) bool {
	fd, err := unix.Openat2(lower, rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return errors.Is(err, unix.ELOOP)
	}
	unix.Close(fd)
	return true
}
