package fstree

import (
	"io"
	"io/fs"
	"path"
	"sort"
	"syscall"
	"time"

	erofs "github.com/erofs/go-erofs"
)

// WriteErofs writes the merged tree as an EROFS image to out. tmpDir is
// where go-erofs may put a spool file of its own (unused for trees, whose
// data is read from the tree's spool).
//
// Kept: file types, permission bits with setuid/setgid/sticky, uid/gid,
// mtimes, symlink targets, device numbers, FIFOs and the user., trusted.
// and security. extended attributes. Hard links become separate inodes
// with the same contents and metadata: go-erofs v0.3.1 cannot write two
// directory entries for one inode.
func (t *Tree) WriteErofs(out io.WriteSeeker, tmpDir string) error {
	w := erofs.Create(out, erofs.WithBuildTime(0, 0), erofs.WithTempDir(tmpDir))
	if err := w.CopyFrom(&treeFS{t: t}); err != nil {
		return err
	}
	var setx func(p string, n *node) error
	setx = func(p string, n *node) error {
		for _, k := range sortedKeys(n.ino.xattrs) {
			if err := w.Setxattr(p, k, n.ino.xattrs[k]); err != nil {
				return err
			}
		}
		for name, c := range n.children {
			if err := setx(path.Join(p, name), c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := setx("/", t.root); err != nil {
		return err
	}
	return w.Close()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// treeFS presents the tree as an fs.FS for erofs.Writer.CopyFrom. FileInfo
// carries a *syscall.Stat_t, from which go-erofs takes ownership, mtime,
// link count and rdev.
type treeFS struct{ t *Tree }

func (f *treeFS) node(name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	p := name
	if p == "." {
		p = ""
	}
	n, _ := f.t.lookup(p)
	if n == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

func (f *treeFS) Open(name string) (fs.File, error) {
	n, err := f.node(name)
	if err != nil {
		return nil, err
	}
	of := &openFile{t: f.t, n: n, name: path.Base(name)}
	if n.ino.mode.IsRegular() {
		of.r = io.NewSectionReader(f.t.spool, n.ino.off, n.ino.size)
	}
	return of, nil
}

func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.node(name)
	if err != nil {
		return nil, err
	}
	return readDir(n), nil
}

// ReadLink is go-erofs' readLinker.
func (f *treeFS) ReadLink(name string) (string, error) {
	n, err := f.node(name)
	if err != nil {
		return "", err
	}
	return n.ino.target, nil
}

func readDir(n *node) []fs.DirEntry {
	names := sortedNames(n)
	out := make([]fs.DirEntry, len(names))
	for i, name := range names {
		out[i] = fs.FileInfoToDirEntry(info(name, n.children[name]))
	}
	return out
}

type fileInfo struct {
	name string
	n    *node
	st   syscall.Stat_t
}

func info(name string, n *node) *fileInfo {
	fi := &fileInfo{name: name, n: n}
	fi.st.Uid = n.ino.uid
	fi.st.Gid = n.ino.gid
	fi.st.Mtim = syscall.NsecToTimespec(n.ino.mtime.UnixNano())
	if n.ino.mtime.IsZero() || n.ino.mtime.Unix() < 0 {
		fi.st.Mtim = syscall.Timespec{}
	}
	fi.st.Rdev = uint64(n.ino.rdev)
	fi.st.Nlink = 1
	if n.children != nil {
		fi.st.Nlink = 2
		for _, c := range n.children {
			if c.children != nil {
				fi.st.Nlink++
			}
		}
	}
	return fi
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.n.ino.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.n.ino.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.n.ino.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.n.ino.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return &fi.st }

type openFile struct {
	t    *Tree
	n    *node
	name string
	r    *io.SectionReader
	dir  []fs.DirEntry
	read bool
}

func (f *openFile) Stat() (fs.FileInfo, error) { return info(f.name, f.n), nil }

func (f *openFile) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, io.EOF
	}
	return f.r.Read(p)
}

func (f *openFile) Close() error { return nil }

func (f *openFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if f.n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: syscall.ENOTDIR}
	}
	if !f.read {
		f.dir = readDir(f.n)
		f.read = true
	}
	if count <= 0 {
		out := f.dir
		f.dir = nil
		return out, nil
	}
	if len(f.dir) == 0 {
		return nil, io.EOF
	}
	if count > len(f.dir) {
		count = len(f.dir)
	}
	out := f.dir[:count]
	f.dir = f.dir[count:]
	return out, nil
}
