package daemon

import (
	"context"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/tarcheck"
)

// Files adapts the daemon to api.Files: archives of a running pod's
// container root filesystems (cp, export) and their changes (diff).
type Files struct{ d *Daemon }

// Files returns the daemon's api.Files.
func (d *Daemon) Files() Files { return Files{d} }

func (f Files) guest(ref, container string) (*guest.Client, string, error) {
	p, name, err := f.d.lookupContainer(ref, container)
	if err != nil {
		return nil, "", err
	}
	g, err := p.sb.FilesGuest(name)
	return g, name, err
}

// StatPath implements api.Files.
func (f Files) StatPath(ctx context.Context, ref, container, path string) (types.PathStat, error) {
	g, name, err := f.guest(ref, container)
	if err != nil {
		return types.PathStat{}, err
	}
	ps, err := g.StatPath(ctx, protocol.ArchiveRequest{Container: name, Path: path})
	return pathStat(ps), err
}

// GetArchive implements api.Files. The guest's archive is checked entry
// by entry on its way to w (the guest is untrusted).
func (f Files) GetArchive(ctx context.Context, ref, container, path string, follow bool, w func(types.PathStat) io.Writer) error {
	g, name, err := f.guest(ref, container)
	if err != nil {
		return err
	}
	return g.ArchiveGet(ctx, protocol.ArchiveRequest{Container: name, Path: path, FollowLink: follow},
		func(ps protocol.PathStat, r io.Reader) error {
			return tarcheck.Copy(w(pathStat(ps)), r)
		})
}

// PutArchive implements api.Files.
func (f Files) PutArchive(ctx context.Context, ref, container, path string, o types.ArchiveOptions, r io.Reader) error {
	g, name, err := f.guest(ref, container)
	if err != nil {
		return err
	}
	req := protocol.ArchiveRequest{Container: name, Path: path, CopyUIDGID: o.CopyUIDGID, NoOverwriteDirNonDir: o.NoOverwriteDirNonDir}
	return g.ArchivePut(ctx, req, func(w io.Writer) error { return tarcheck.Copy(w, r) })
}

// Changes implements api.Files.
func (f Files) Changes(ctx context.Context, ref, container string) ([]types.Change, error) {
	g, name, err := f.guest(ref, container)
	if err != nil {
		return nil, err
	}
	res, err := g.Changes(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]types.Change, 0, len(res.Changes))
	for _, c := range res.Changes {
		out = append(out, types.Change{Path: c.Path, Kind: c.Kind})
	}
	return out, nil
}

// pathStat converts the guest's st_mode-based stat to docker's shape.
func pathStat(ps protocol.PathStat) types.PathStat {
	m := os.FileMode(ps.Mode & 0o777)
	if ps.Mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if ps.Mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if ps.Mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	switch ps.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= os.ModeDir
	case unix.S_IFLNK:
		m |= os.ModeSymlink
	case unix.S_IFIFO:
		m |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= os.ModeSocket
	case unix.S_IFCHR:
		m |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		m |= os.ModeDevice
	}
	return types.PathStat{Name: ps.Name, Size: ps.Size, Mode: m, Mtime: time.Unix(0, ps.MtimeNanos).UTC(), LinkTarget: ps.LinkTarget}
}
