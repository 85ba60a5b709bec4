package protocol

import (
	"fmt"
	"path"
	"strings"
)

// KindArchive streams carry a tar archive of a container's files (hyperctl
// cp, export). The header's Method is MethodArchiveGet or
// MethodArchivePut. The host sends one ArchiveRequest frame and the guest
// answers one Response frame (a PathStat for a get, Empty for a put). On
// success:
//   - get: the guest writes a tar archive (ending with its two zero
//     blocks), then a final Response frame: Empty, or the error that cut
//     the archive short;
//   - put: the host writes a tar archive (ending with its two zero
//     blocks), the guest extracts it and answers a final Response frame.
const KindArchive = "archive"

// Archive methods.
const (
	MethodArchiveGet = "ArchiveGet" // on a KindArchive stream
	MethodArchivePut = "ArchivePut" // on a KindArchive stream
	MethodStatPath   = "StatPath"   // rpc: ArchiveRequest -> PathStat
	MethodChanges    = "Changes"    // rpc: ContainerRef -> ChangesResult
)

// ArchiveRequest names a path of a container's root filesystem (absolute,
// resolved inside the root as if it were "/"; volumes mounted in the
// container are not seen).
type ArchiveRequest struct {
	Container string `json:"container"`
	Path      string `json:"path"`
	// FollowLink: a get follows a final symlink of Path (cp -L).
	FollowLink bool `json:"followLink,omitempty"`
	// Put: the archive's entries keep their owners (cp -a); otherwise
	// they belong to root.
	CopyUIDGID bool `json:"copyUIDGID,omitempty"`
	// Put: replacing a directory with a non-directory, or the reverse,
	// is an error.
	NoOverwriteDirNonDir bool `json:"noOverwriteDirNonDir,omitempty"`
	// Layer: a get archives the container's writable layer (Path is
	// ignored), overlay whiteouts as OCI ones (".wh.NAME",
	// ".wh..wh..opq"): hyperctl commit.
	Layer bool `json:"layer,omitempty"`
}

// MaxArchiveName bounds the names and link targets of archive entries
// both sides read.
const MaxArchiveName = 4096

// PathStat is the stat of a path (not following a final symlink).
// A get's archive names its entries after Name ("name", "name/child");
// a Name of "." (Path "/" or ending in "/.") archives the directory's
// contents ("child") without an entry for the directory itself.
type PathStat struct {
	Name       string `json:"name"`
	Size       int64  `json:"size"`
	Mode       uint32 `json:"mode"` // st_mode: S_IFMT type bits and permissions
	MtimeNanos int64  `json:"mtimeNanos"`
	LinkTarget string `json:"linkTarget,omitempty"`
}

// Change kinds, as docker diff prints them.
const (
	ChangeModify = 0 // "C"
	ChangeAdd    = 1 // "A"
	ChangeDelete = 2 // "D"
)

// Change is one changed path of a container's writable layer.
type Change struct {
	Path string `json:"path"`
	Kind int    `json:"kind"`
}

// MaxChanges bounds a ChangesResult; Truncated says there were more.
const MaxChanges = 4096

// ChangesResult is a container's writable layer against its image.
type ChangesResult struct {
	Changes   []Change `json:"changes"`
	Truncated bool     `json:"truncated,omitempty"`
}

// CleanArchiveName turns the name (or hard link target) of an archive
// entry into a clean path relative to where the archive is extracted
// ("." for that directory itself). A leading "/" is dropped; a name that
// climbs out with "..", holds a NUL or is longer than MaxArchiveName is
// an error.
func CleanArchiveName(name string) (string, error) {
	if len(name) > MaxArchiveName {
		return "", fmt.Errorf("archive entry name of %d bytes: at most %d", len(name), MaxArchiveName)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("archive entry name %q holds a NUL byte", name)
	}
	n := path.Clean(name)
	if n == ".." || strings.HasPrefix(n, "../") {
		return "", fmt.Errorf("archive entry %q leads out of the destination", name)
	}
	n = strings.TrimLeft(n, "/")
	if n == "" {
		n = "."
	}
	return n, nil
}
