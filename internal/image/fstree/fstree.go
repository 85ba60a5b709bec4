// Package fstree merges container image layers (tar changesets) into one
// in-memory tree and writes that tree as an EROFS image.
//
// The tree never touches the host file system except for one spool file
// that holds regular file contents: nothing is extracted, no path taken
// from a layer is ever opened, and links are stored as strings, never
// followed. Layers are untrusted; every problem with one is reported as an
// errdefs.ErrInvalidArgument error.
//
// Layer semantics follow the OCI image spec ("Applying changesets") and
// Docker's implementation of it:
//   - `.wh.NAME` removes NAME (and its subtree) coming from lower layers;
//   - `.wh..wh..opq` in a directory hides everything lower layers put in it;
//   - other `.wh..wh.*` entries (AUFS bookkeeping) are ignored;
//   - an entry replacing a directory with a non-directory drops the subtree,
//     two directories merge (the newer metadata wins).
//
// Entry names are normalised ("./a//b/" is "a/b"); a name that is absolute
// or contains a ".." component is refused, never rewritten.
package fstree

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Whiteout markers (AUFS convention used by OCI and Docker layers).
const (
	WhiteoutPrefix     = ".wh."
	WhiteoutMetaPrefix = ".wh..wh."
	WhiteoutOpaque     = ".wh..wh..opq"
)

// Limits bound what one tree may hold. Zero fields take the defaults.
type Limits struct {
	// MaxEntries is the number of tar entries accepted over all layers.
	MaxEntries int
	// MaxXattrBytes bounds the extended attributes of one entry (names and
	// values together).
	MaxXattrBytes int
	// MaxContentBytes bounds the file contents spooled over all layers
	// (sparse files count at their full size).
	MaxContentBytes int64
}

// Default limits.
const (
	DefaultMaxEntries    = 2 << 20
	DefaultMaxXattrBytes = 64 << 10
	DefaultMaxContent    = 64 << 30

	maxNameLen    = 255  // one path component (EROFS and Linux NAME_MAX)
	maxPathLen    = 4096 // PATH_MAX
	maxLinkLen    = 4095
	maxDevMajor   = 1<<12 - 1 // 32-bit new_encode_dev: 12 bits of major
	maxDevMinor   = 1<<20 - 1 // and 20 bits of minor
	maxUID        = 1<<32 - 2 // (uid_t)-1 is "no change", refuse it
	xattrTarPrefx = "SCHILY.xattr."
)

// Spool is where regular file contents go: appended with Write, read back
// with ReadAt. An *os.File opened read-write is the usual one.
type Spool interface {
	io.Writer
	io.ReaderAt
}

// Tree is the merged root file system of an image being built.
type Tree struct {
	root     *node
	spool    Spool
	spoolOff int64
	layer    int // 1-based index of the layer being applied
	entries  int
	lim      Limits
}

type inode struct {
	mode   fs.FileMode // type bits plus permissions, setuid, setgid, sticky
	uid    uint32
	gid    uint32
	mtime  time.Time
	size   int64  // regular files
	off    int64  // regular files: offset in the spool
	target string // symlinks
	rdev   uint32 // devices, new_encode_dev form
	xattrs map[string]string
}

type node struct {
	name     string
	ino      *inode
	children map[string]*node // directories only
	layer    int              // layer that created or last declared this entry
}

// New returns an empty tree (a root directory 0755 owned by root) whose
// file contents go to spool.
func New(spool Spool, lim Limits) *Tree {
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultMaxEntries
	}
	if lim.MaxXattrBytes <= 0 {
		lim.MaxXattrBytes = DefaultMaxXattrBytes
	}
	if lim.MaxContentBytes <= 0 {
		lim.MaxContentBytes = DefaultMaxContent
	}
	return &Tree{
		root:  &node{ino: &inode{mode: fs.ModeDir | 0o755}, children: map[string]*node{}},
		spool: spool,
		lim:   lim,
	}
}

// invalid returns an errdefs.ErrInvalidArgument error about entry name.
func (t *Tree) invalid(name string, format string, args ...any) error {
	return errdefs.InvalidArgument("layer %d: entry %q: %s", t.layer, short(name), fmt.Sprintf(format, args...))
}

// short keeps error messages readable when a name is hostile.
func short(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}

// spoolError marks a failure writing the spool (a host problem, not a bad layer).
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "fstree: write spool: " + e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

type spoolWriter struct {
	w   io.Writer
	err error
}

func (s *spoolWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// Apply applies one uncompressed layer tar on top of the tree. It reads r
// up to the tar end-of-archive marker; the caller drains what follows if
// it needs the whole stream (e.g. to check the layer digest).
func (t *Tree) Apply(r io.Reader) error {
	t.layer++
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errdefs.InvalidArgument("layer %d: read tar: %w", t.layer, err)
		}
		t.entries++
		if t.entries > t.lim.MaxEntries {
			return errdefs.InvalidArgument("layer %d: more than %d entries", t.layer, t.lim.MaxEntries)
		}
		if err := t.apply(hdr, tr); err != nil {
			return err
		}
	}
}

// CleanName normalises a layer entry name to a slash-separated path
// relative to the root ("" is the root itself). Absolute names, ".."
// components, NUL bytes and over-long names are refused.
func CleanName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("NUL byte in name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute path")
	}
	parts := strings.Split(name, "/")
	out := parts[:0]
	for _, p := range parts {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", errors.New(`".." path component`)
		}
		if len(p) > maxNameLen {
			return "", fmt.Errorf("path component longer than %d bytes", maxNameLen)
		}
		out = append(out, p)
	}
	clean := strings.Join(out, "/")
	if len(clean) > maxPathLen {
		return "", fmt.Errorf("path longer than %d bytes", maxPathLen)
	}
	return clean, nil
}

func split(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

func (t *Tree) apply(hdr *tar.Header, tr *tar.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	p, err := CleanName(hdr.Name)
	if err != nil {
		return t.invalid(hdr.Name, "%v", err)
	}
	if p == "" {
		if hdr.Typeflag != tar.TypeDir {
			return t.invalid(hdr.Name, "root entry is not a directory")
		}
		ino, err := t.inodeFromHeader(hdr, p)
		if err != nil {
			return err
		}
		t.root.ino = ino
		return nil
	}
	dir, base := split(p)
	if strings.HasPrefix(base, WhiteoutPrefix) {
		return t.whiteout(hdr.Name, dir, base)
	}
	parent, err := t.mkdirAll(hdr.Name, dir)
	if err != nil {
		return err
	}
	existing := parent.children[base]

	switch hdr.Typeflag {
	case tar.TypeLink:
		target, err := CleanName(hdr.Linkname)
		if err != nil {
			return t.invalid(hdr.Name, "hard link target %q: %v", short(hdr.Linkname), err)
		}
		tn, err := t.lookup(target)
		if err != nil || tn == nil {
			return t.invalid(hdr.Name, "hard link target %q does not exist in the image", short(hdr.Linkname))
		}
		if tn.ino.mode.IsDir() {
			return t.invalid(hdr.Name, "hard link to directory %q", short(hdr.Linkname))
		}
		if tn == existing {
			return nil
		}
		parent.children[base] = &node{name: base, ino: tn.ino, layer: t.layer}
		return nil
	case tar.TypeDir:
		ino, err := t.inodeFromHeader(hdr, p)
		if err != nil {
			return err
		}
		if existing != nil && existing.ino.mode.IsDir() {
			existing.ino = ino
			existing.layer = t.layer
			return nil
		}
		parent.children[base] = &node{name: base, ino: ino, children: map[string]*node{}, layer: t.layer}
		return nil
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		ino, err := t.inodeFromHeader(hdr, p)
		if err != nil {
			return err
		}
		if ino.mode.IsRegular() && ino.size > 0 {
			if ino.size > t.lim.MaxContentBytes-t.spoolOff {
				return t.invalid(hdr.Name, "file contents exceed the limit of %d bytes", t.lim.MaxContentBytes)
			}
			ino.off = t.spoolOff
			sw := &spoolWriter{w: t.spool}
			n, err := io.CopyN(sw, tr, ino.size)
			t.spoolOff += n
			if err != nil {
				if sw.err != nil {
					return &spoolError{sw.err}
				}
				return t.invalid(hdr.Name, "read contents: %v", err)
			}
		}
		parent.children[base] = &node{name: base, ino: ino, layer: t.layer}
		return nil
	default:
		return t.invalid(hdr.Name, "unsupported tar entry type %q", hdr.Typeflag)
	}
}

func (t *Tree) inodeFromHeader(hdr *tar.Header, p string) (*inode, error) {
	if hdr.Uid < 0 || hdr.Uid > maxUID || hdr.Gid < 0 || hdr.Gid > maxUID {
		return nil, t.invalid(hdr.Name, "uid/gid %d/%d out of range", hdr.Uid, hdr.Gid)
	}
	if hdr.Mode < 0 {
		return nil, t.invalid(hdr.Name, "negative mode")
	}
	ino := &inode{
		mode:  unixPermToGo(hdr.Mode),
		uid:   uint32(hdr.Uid),
		gid:   uint32(hdr.Gid),
		mtime: hdr.ModTime,
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		ino.mode |= fs.ModeDir
	case tar.TypeReg, tar.TypeGNUSparse:
		if hdr.Size < 0 {
			return nil, t.invalid(hdr.Name, "negative size")
		}
		ino.size = hdr.Size
	case tar.TypeSymlink:
		if err := checkSymlink(p, hdr.Linkname); err != nil {
			return nil, t.invalid(hdr.Name, "symlink target %q: %v", short(hdr.Linkname), err)
		}
		ino.mode = fs.ModeSymlink | 0o777
		ino.target = hdr.Linkname
	case tar.TypeChar, tar.TypeBlock:
		if hdr.Devmajor < 0 || hdr.Devmajor > maxDevMajor || hdr.Devminor < 0 || hdr.Devminor > maxDevMinor {
			return nil, t.invalid(hdr.Name, "device number %d:%d out of range", hdr.Devmajor, hdr.Devminor)
		}
		ino.mode |= fs.ModeDevice
		if hdr.Typeflag == tar.TypeChar {
			ino.mode |= fs.ModeCharDevice
		}
		ino.rdev = encodeDev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	case tar.TypeFifo:
		ino.mode |= fs.ModeNamedPipe
	}
	xattrs, err := t.xattrsFromHeader(hdr)
	if err != nil {
		return nil, err
	}
	ino.xattrs = xattrs
	return ino, nil
}

// keepXattr says whether an extended attribute from a layer goes into the
// image. EROFS (as built here) stores the user., trusted. and security.
// namespaces; overlayfs' own attributes are dropped so that a layer cannot
// steer the guest's overlay mount (redirects, metacopy, opaque markers).
func keepXattr(name string) bool {
	switch {
	case strings.HasPrefix(name, "trusted.overlay."), strings.HasPrefix(name, "user.overlay."):
		return false
	case strings.HasPrefix(name, "user."), strings.HasPrefix(name, "trusted."), strings.HasPrefix(name, "security."):
		return len(name) > strings.IndexByte(name, '.')+1
	}
	return false
}

func (t *Tree) xattrsFromHeader(hdr *tar.Header) (map[string]string, error) {
	var xattrs map[string]string
	total := 0
	for k, v := range hdr.PAXRecords {
		if !strings.HasPrefix(k, xattrTarPrefx) {
			continue
		}
		name := k[len(xattrTarPrefx):]
		if !keepXattr(name) {
			continue
		}
		if len(name) > 255 || len(v) > 65535 {
			return nil, t.invalid(hdr.Name, "xattr %q too large", short(name))
		}
		total += len(name) + len(v)
		if total > t.lim.MaxXattrBytes {
			return nil, t.invalid(hdr.Name, "xattrs larger than %d bytes", t.lim.MaxXattrBytes)
		}
		if xattrs == nil {
			xattrs = map[string]string{}
		}
		xattrs[name] = v
	}
	return xattrs, nil
}

// checkSymlink refuses symlink targets that are empty, too long, or
// relative ones that climb above the root from where the link sits.
// Absolute targets are kept: the guest resolves them inside the
// container's root.
func checkSymlink(linkPath, target string) error {
	if target == "" {
		return errors.New("empty")
	}
	if len(target) > maxLinkLen {
		return fmt.Errorf("longer than %d bytes", maxLinkLen)
	}
	if strings.IndexByte(target, 0) >= 0 {
		return errors.New("NUL byte")
	}
	if strings.HasPrefix(target, "/") {
		return nil
	}
	dir, _ := split(linkPath)
	depth := 0
	if dir != "" {
		depth = strings.Count(dir, "/") + 1
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return errors.New("points outside the root file system")
			}
		default:
			depth++
		}
	}
	return nil
}

func unixPermToGo(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// encodeDev is the kernel's new_encode_dev, the form EROFS stores.
func encodeDev(major, minor uint32) uint32 {
	return (minor & 0xff) | (major << 8) | ((minor &^ 0xff) << 12)
}

// DecodeDev is the inverse of the on-disk device encoding.
func DecodeDev(rdev uint32) (major, minor uint32) {
	return (rdev & 0xfff00) >> 8, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)
}

// mkdirAll returns the directory at dir, creating missing ones (0755,
// root-owned). A component that exists and is not a directory (a file, or
// a symlink, which is never followed) is an error.
func (t *Tree) mkdirAll(name, dir string) (*node, error) {
	cur := t.root
	if dir == "" {
		return cur, nil
	}
	for _, c := range strings.Split(dir, "/") {
		next := cur.children[c]
		if next == nil {
			next = &node{name: c, ino: &inode{mode: fs.ModeDir | 0o755}, children: map[string]*node{}, layer: t.layer}
			cur.children[c] = next
		} else if !next.ino.mode.IsDir() {
			return nil, t.invalid(name, "parent %q is not a directory", short(c))
		}
		cur = next
	}
	return cur, nil
}

// lookup finds the node at p without following symlinks; nil if absent.
func (t *Tree) lookup(p string) (*node, error) {
	cur := t.root
	if p == "" {
		return cur, nil
	}
	for _, c := range strings.Split(p, "/") {
		if cur.children == nil {
			return nil, nil
		}
		cur = cur.children[c]
		if cur == nil {
			return nil, nil
		}
	}
	return cur, nil
}

func (t *Tree) whiteout(name, dir, base string) error {
	parent, _ := t.lookup(dir)
	if parent != nil && parent.children == nil {
		parent = nil // whiteout below a non-directory: nothing to hide
	}
	if base == WhiteoutOpaque {
		if parent != nil {
			t.pruneLower(parent)
		}
		return nil
	}
	if strings.HasPrefix(base, WhiteoutMetaPrefix) {
		return nil // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): ignored
	}
	victim := base[len(WhiteoutPrefix):]
	if victim == "" || victim == "." || victim == ".." {
		return t.invalid(name, "malformed whiteout")
	}
	if parent == nil {
		return nil
	}
	if c := parent.children[victim]; c != nil && c.layer != t.layer {
		delete(parent.children, victim)
	}
	return nil
}

// pruneLower removes from dir everything that lower layers put there,
// keeping what the current layer declared (and directories leading to it).
func (t *Tree) pruneLower(dir *node) {
	for name, c := range dir.children {
		if c.children != nil && (c.layer == t.layer || hasLayer(c, t.layer)) {
			t.pruneLower(c)
			continue
		}
		if c.layer != t.layer {
			delete(dir.children, name)
		}
	}
}

func hasLayer(n *node, layer int) bool {
	for _, c := range n.children {
		if c.layer == layer || (c.children != nil && hasLayer(c, layer)) {
			return true
		}
	}
	return false
}

// Entry describes one path of the merged tree, for tests and tools.
type Entry struct {
	Path   string // slash-separated, relative; "" is the root
	Mode   fs.FileMode
	UID    uint32
	GID    uint32
	Size   int64
	Target string // symlink target
	Major  uint32
	Minor  uint32
	Xattrs map[string]string
	// Inode is the same for entries that are hard links of each other.
	Inode uintptr
}

// Walk calls fn for every entry of the merged tree in lexical order,
// parents first.
func (t *Tree) Walk(fn func(Entry) error) error {
	ids := map[*inode]uintptr{}
	var walk func(p string, n *node) error
	walk = func(p string, n *node) error {
		id, ok := ids[n.ino]
		if !ok {
			id = uintptr(len(ids) + 1)
			ids[n.ino] = id
		}
		maj, min := DecodeDev(n.ino.rdev)
		e := Entry{Path: p, Mode: n.ino.mode, UID: n.ino.uid, GID: n.ino.gid, Size: n.ino.size,
			Target: n.ino.target, Major: maj, Minor: min, Xattrs: n.ino.xattrs, Inode: id}
		if err := fn(e); err != nil {
			return err
		}
		for _, name := range sortedNames(n) {
			if err := walk(path.Join(p, name), n.children[name]); err != nil {
				return err
			}
		}
		return nil
	}
	return walk("", t.root)
}

// ReadFile returns the contents of the regular file at p.
func (t *Tree) ReadFile(p string) ([]byte, error) {
	n, _ := t.lookup(p)
	if n == nil || !n.ino.mode.IsRegular() {
		return nil, fs.ErrNotExist
	}
	buf := make([]byte, n.ino.size)
	_, err := t.spool.ReadAt(buf, n.ino.off)
	if err == io.EOF && n.ino.size == 0 {
		err = nil
	}
	return buf, err
}

func sortedNames(n *node) []string {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
