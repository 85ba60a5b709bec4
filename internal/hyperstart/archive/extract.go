package archive

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/inroot"
	"github.com/hyperhq/hyper/internal/protocol"
)

// MaxEntries bounds the entries of one archive extracted.
const MaxEntries = 1 << 20

// Options tune Extract.
type Options struct {
	// CopyUIDGID keeps the archive's owners; otherwise entries belong to
	// root.
	CopyUIDGID bool
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory or the reverse (a directory is never replaced by a
	// non-directory in any case).
	NoOverwriteDirNonDir bool
}

// Extract extracts the tar archive r into directory dest (which must
// exist) of root. Names are relative to dest; symlinks on the way are
// resolved inside the root. Device nodes are refused.
func Extract(root *inroot.Root, dest string, r io.Reader, o Options) error {
	fd, err := root.OpenFd(dest, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		return errs.NotFound("destination %s does not exist", dest)
	} else if errors.Is(err, unix.ENOTDIR) {
		return errs.Invalid("destination %s is not a directory", dest)
	} else if err != nil {
		return errs.Invalid("destination %s: %w", dest, err)
	}
	unix.Close(fd)
	type dirTime struct {
		name string
		t    unix.Timespec
	}
	var dirs []dirTime
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errs.Invalid("reading archive: %w", err)
		}
		if n >= MaxEntries {
			return errs.Invalid("archive has more than %d entries", MaxEntries)
		}
		name, err := protocol.CleanArchiveName(hdr.Name)
		if err != nil {
			return errs.Invalid("%w", err)
		}
		if name == "." {
			continue // dest itself
		}
		full := path.Join(dest, name)
		if err := extractOne(root, full, dest, hdr, tr, o); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTime{full, unix.NsecToTimespec(hdr.ModTime.UnixNano())})
		}
	}
	// Directories' times last: their entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		pfd, base, err := root.OpenParent(d.name)
		if err != nil {
			continue
		}
		unix.UtimesNanoAt(pfd, base, []unix.Timespec{d.t, d.t}, unix.AT_SYMLINK_NOFOLLOW)
		unix.Close(pfd)
	}
	return nil
}

func extractOne(root *inroot.Root, full, dest string, hdr *tar.Header, r io.Reader, o Options) error {
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
	case tar.TypeChar, tar.TypeBlock:
		return errs.Invalid("archive entry %s: device nodes are not allowed", hdr.Name)
	default:
		return errs.Invalid("archive entry %s: unsupported type %q", hdr.Name, hdr.Typeflag)
	}
	if hdr.Mode < 0 || hdr.Mode > 0o7777 {
		hdr.Mode &= 0o7777
	}
	if len(hdr.Linkname) > protocol.MaxArchiveName {
		return errs.Invalid("archive entry %s: link target too long", hdr.Name)
	}
	pfd, err := root.MkdirAll(path.Dir(full), 0o755)
	if err != nil {
		return errs.Invalid("%w", err)
	}
	defer unix.Close(pfd)
	base := path.Base(full)
	if err := makeRoom(pfd, base, full, hdr, o); err != nil {
		return err
	}
	uid, gid := 0, 0
	if o.CopyUIDGID {
		uid, gid = hdr.Uid, hdr.Gid
	}
	perm := uint32(hdr.Mode)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return errs.Invalid("creating directory %s: %w", full, err)
		}
		return setOwnerMode(pfd, base, full, unix.O_RDONLY|unix.O_DIRECTORY, uid, gid, perm, nil)
	case tar.TypeReg:
		return setOwnerMode(pfd, base, full, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uid, gid, perm, func(f *os.File) error {
			_, err := io.Copy(f, r)
			return err
		})
	case tar.TypeFifo:
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return errs.Invalid("creating fifo %s: %w", full, err)
		}
		return setOwnerMode(pfd, base, full, unix.O_RDONLY|unix.O_NONBLOCK, uid, gid, perm, nil)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return errs.Invalid("creating symlink %s: %w", full, err)
		}
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return errs.Invalid("chown %s: %w", full, err)
		}
	case tar.TypeLink:
		target, err := protocol.CleanArchiveName(hdr.Linkname)
		if err != nil || target == "." {
			return errs.Invalid("archive entry %s: bad hard link target %q", hdr.Name, hdr.Linkname)
		}
		tfd, tbase, err := root.OpenParent(path.Join(dest, target))
		if err != nil {
			return errs.Invalid("hard link %s: %w", full, err)
		}
		defer unix.Close(tfd)
		if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
			return errs.Invalid("hard link %s to %s: %w", full, hdr.Linkname, err)
		}
		return nil
	}
	t := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	unix.UtimesNanoAt(pfd, base, []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW)
	return nil
}

// makeRoom removes what is at base unless the entry keeps it (a
// directory onto a directory).
func makeRoom(pfd int, base, full string, hdr *tar.Header, o Options) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return errs.Invalid("stat %s: %w", full, err)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case isDir && hdr.Typeflag == tar.TypeDir:
		return nil
	case isDir:
		return errs.Invalid("cannot overwrite directory %s with non-directory %s", full, hdr.Name)
	case hdr.Typeflag == tar.TypeDir && o.NoOverwriteDirNonDir:
		return errs.Invalid("cannot overwrite non-directory %s with directory %s", full, hdr.Name)
	}
	if err := unix.Unlinkat(pfd, base, 0); err != nil {
		return errs.Invalid("replacing %s: %w", full, err)
	}
	return nil
}

// setOwnerMode opens base (never following a symlink), runs fill on it
// if given, and sets its owner, then its mode (chown clears set-id bits)
// and its times.
func setOwnerMode(pfd int, base, full string, flags, uid, gid int, perm uint32, fill func(*os.File) error) error {
	fd, err := unix.Openat(pfd, base, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0o600)
	if err != nil {
		return errs.Invalid("opening %s: %w", full, err)
	}
	f := os.NewFile(uintptr(fd), full)
	defer f.Close()
	if fill != nil {
		if err := fill(f); err != nil {
			return errs.Invalid("writing %s: %w", full, err)
		}
	}
	if err := f.Chown(uid, gid); err != nil {
		return errs.Invalid("chown %s: %w", full, err)
	}
	if err := unix.Fchmod(fd, perm); err != nil {
		return errs.Invalid("chmod %s: %w", full, err)
	}
	return nil
}
