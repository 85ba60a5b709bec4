// Package initramfs writes Linux initramfs archives (cpio "newc" format)
// from Go, so building the guest's boot image needs no host cpio tool.
//
// The archive is uncompressed: the kernel copies it without a decompressor,
// which under a software CPU is faster than inflating a smaller file.
package initramfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Entry is one file in the archive.
type Entry struct {
	Path string // relative, e.g. "init" or "dev/console"
	Mode uint32 // type and permission bits, as in stat(2) (e.g. S_IFREG|0755)
	Data []byte // regular file contents, or symlink target
	// Major and Minor are the device numbers of character and block nodes.
	Major, Minor uint32
}

// File types, as in stat(2).
const (
	TypeDir     = 0o040000
	TypeReg     = 0o100000
	TypeSymlink = 0o120000
	TypeChar    = 0o020000
)

// Dir returns a directory entry.
func Dir(p string, perm uint32) Entry { return Entry{Path: p, Mode: TypeDir | perm} }

// File returns a regular file entry.
func File(p string, perm uint32, data []byte) Entry {
	return Entry{Path: p, Mode: TypeReg | perm, Data: data}
}

// CharDev returns a character device entry.
func CharDev(p string, perm, major, minor uint32) Entry {
	return Entry{Path: p, Mode: TypeChar | perm, Major: major, Minor: minor}
}

// Write writes entries as a newc archive. Parent directories are not
// created implicitly; entries are written sorted by path so parents come
// first.
func Write(w io.Writer, entries []Entry) error {
	sorted := append([]Entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	bw := bufio.NewWriter(w)
	for i, e := range sorted {
		p := path.Clean(strings.TrimPrefix(e.Path, "/"))
		if p == "." || strings.HasPrefix(p, "../") {
			return fmt.Errorf("initramfs: bad path %q", e.Path)
		}
		data := e.Data
		if e.Mode&0o170000 != TypeReg && e.Mode&0o170000 != TypeSymlink {
			data = nil
		}
		if err := writeEntry(bw, uint32(i+1), p, e.Mode, e.Major, e.Minor, data); err != nil {
			return err
		}
	}
	if err := writeEntry(bw, 0, "TRAILER!!!", 0, 0, 0, nil); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteFile writes the archive to a file atomically (temp file + rename).
func WriteFile(name string, entries []Entry) error {
	f, err := os.CreateTemp(path.Dir(name), ".initramfs-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := Write(f, entries); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

func writeEntry(w *bufio.Writer, ino uint32, name string, mode, major, minor uint32, data []byte) error {
	nlink := uint32(1)
	if mode&0o170000 == TypeDir {
		nlink = 2
	}
	// magic ino mode uid gid nlink mtime filesize devmajor devminor
	// rdevmajor rdevminor namesize check
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, major, minor, len(name)+1, 0)
	if _, err := w.WriteString(hdr); err != nil {
		return err
	}
	w.WriteString(name)
	w.WriteByte(0)
	pad(w, 110+len(name)+1)
	w.Write(data)
	pad(w, len(data))
	return nil
}

func pad(w *bufio.Writer, n int) {
	for ; n%4 != 0; n++ {
		w.WriteByte(0)
	}
}
