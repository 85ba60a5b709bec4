package fstree_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	erofs "github.com/erofs/go-erofs"
	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image/fstree"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

func newTree(t testing.TB, lim fstree.Limits) *fstree.Tree {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "spool")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return fstree.New(f, lim)
}

func paths(t testing.TB, tr *fstree.Tree) map[string]fstree.Entry {
	t.Helper()
	m := map[string]fstree.Entry{}
	if err := tr.Walk(func(e fstree.Entry) error { m[e.Path] = e; return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

func keys(m map[string]fstree.Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func multiLayer(t testing.TB) [][]byte { return it.MultiLayer(t) }

func apply(t testing.TB, tr *fstree.Tree, layers ...[]byte) {
	t.Helper()
	for i, l := range layers {
		if err := tr.Apply(bytes.NewReader(l)); err != nil {
			t.Fatalf("layer %d: %v", i+1, err)
		}
	}
}

func TestMerge(t *testing.T) {
	tr := newTree(t, fstree.Limits{})
	apply(t, tr, multiLayer(t)...)
	m := paths(t, tr)
	want := []string{"", "dev", "dev/fifo", "dev/null", "dev/sda", "dir2file", "etc", "etc/alt", "etc/capped", "etc/passwd",
		"opq", "opq/sub", "opq/sub/upper2", "opq/upper", "tmp", "usr", "usr/bin", "usr/bin/rel", "usr/bin/sg", "usr/bin/su",
		"usr/bin/tool", "usr/bin/tool-link", "var", "var/lib", "var/lib/data", "var/lib/data/c"}
	if got := keys(m); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paths:\n got %v\nwant %v", got, want)
	}
	if e := m["usr/bin/su"]; e.Mode != 0o755|fs.ModeSetuid {
		t.Errorf("su mode %v", e.Mode)
	}
	if e := m["tmp"]; e.Mode != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("tmp mode %v", e.Mode)
	}
	if e := m["dev/sda"]; e.Major != 8 || e.Minor != 300 || e.Mode.Type() != fs.ModeDevice {
		t.Errorf("sda %+v", e)
	}
	if e := m["etc/capped"]; len(e.Xattrs) != 2 || e.Xattrs["user.note"] != "hello" {
		t.Errorf("xattrs %v", e.Xattrs)
	}
	if m["usr/bin/tool-link"].Inode == m["usr/bin/tool"].Inode {
		t.Error("hard link not broken by the rewrite of usr/bin/tool")
	}
	if b, _ := tr.ReadFile("usr/bin/tool-link"); string(b) != "#!/bin/sh\necho tool\n" {
		t.Errorf("tool-link %q", b)
	}
	if e := m["usr/bin/tool-link"]; e.UID != 1000 || e.GID != 1001 || e.Mode != 0o750 {
		t.Errorf("tool-link keeps the linked inode's metadata: %+v", e)
	}
	if b, _ := tr.ReadFile("dir2file"); string(b) != "now a file" {
		t.Errorf("dir2file %q", b)
	}
}

func TestHardlinkSharesInode(t *testing.T) {
	tr := newTree(t, fstree.Limits{})
	apply(t, tr, it.Layer(t, it.File("a", "x", 0o600), it.Hardlink("b", "a"), it.Hardlink("./c", "./b")))
	m := paths(t, tr)
	if m["a"].Inode != m["b"].Inode || m["b"].Inode != m["c"].Inode {
		t.Fatalf("hard links do not share an inode: %+v", m)
	}
}

func TestHostile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers [][]byte
	}{
		{"dotdot", [][]byte{it.Layer(t, it.File("../evil", "x", 0o644))}},
		{"dotdot inside", [][]byte{it.Layer(t, it.File("a/../../evil", "x", 0o644))}},
		{"absolute", [][]byte{it.Layer(t, it.File("/etc/evil", "x", 0o644))}},
		{"symlink escapes", [][]byte{it.Layer(t, it.Symlink("a/b", "../../etc/shadow"))}},
		{"hardlink escapes", [][]byte{it.Layer(t, it.Hardlink("a", "../../etc/passwd"))}},
		{"hardlink absolute", [][]byte{it.Layer(t, it.Hardlink("a", "/etc/passwd"))}},
		{"hardlink missing", [][]byte{it.Layer(t, it.Hardlink("a", "nothere"))}},
		{"hardlink to dir", [][]byte{it.Layer(t, it.Dir("d/", 0o755), it.Hardlink("a", "d"))}},
		{"through symlink", [][]byte{it.Layer(t, it.Symlink("lnk", "/tmp")), it.Layer(t, it.File("lnk/evil", "x", 0o644))}},
		{"through file", [][]byte{it.Layer(t, it.File("f", "x", 0o644), it.File("f/evil", "x", 0o644))}},
		{"truncated body", [][]byte{it.Layer(t, it.Entry{Name: "big", Body: "short", Size: 1 << 20})}},
		{"garbage", [][]byte{bytes.Repeat([]byte("not a tar "), 100)}},
		{"huge pax header", [][]byte{hugePAX(t)}},
		{"empty symlink", [][]byte{it.Layer(t, it.Symlink("a", ""))}},
		{"device out of range", [][]byte{it.Layer(t, it.Entry{Name: "d", Type: tar.TypeChar, Major: 1 << 13})}},
		{"malformed whiteout", [][]byte{it.Layer(t, it.File(".wh.", "", 0o644))}},
		{"long name", [][]byte{it.Layer(t, it.File(strings.Repeat("n", 300), "", 0o644))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTree(t, fstree.Limits{})
			var err error
			for _, l := range tc.layers {
				if err = tr.Apply(bytes.NewReader(l)); err != nil {
					break
				}
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("want invalid argument, got %v", err)
			}
			t.Log(err)
		})
	}
}

func hugePAX(t testing.TB) []byte { return it.HugePAXLayer(t) }

func TestLimits(t *testing.T) {
	tr := newTree(t, fstree.Limits{MaxEntries: 3})
	err := tr.Apply(bytes.NewReader(it.Layer(t, it.File("a", "", 0o644), it.File("b", "", 0o644),
		it.File("c", "", 0o644), it.File("d", "", 0o644))))
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("entries: %v", err)
	}
	tr = newTree(t, fstree.Limits{MaxContentBytes: 10})
	err = tr.Apply(bytes.NewReader(it.Layer(t, it.File("a", "0123456789abc", 0o644))))
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("content: %v", err)
	}
	tr = newTree(t, fstree.Limits{MaxXattrBytes: 10})
	err = tr.Apply(bytes.NewReader(it.Layer(t, it.Entry{Name: "a", Mode: 0o644, Xattrs: map[string]string{"user.a": "0123456789"}})))
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("xattrs: %v", err)
	}
}

func writeErofs(t testing.TB, tr *fstree.Tree) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rootfs.erofs")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tr.WriteErofs(f, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWriteErofs(t *testing.T) {
	tr := newTree(t, fstree.Limits{})
	apply(t, tr, multiLayer(t)...)
	img := writeErofs(t, tr)

	// Read back with go-erofs: every entry, its metadata and xattrs.
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	efs, err := erofs.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	want := paths(t, tr)
	got := map[string]bool{}
	err = fs.WalkDir(efs, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		key := p
		if p == "." {
			key = ""
		}
		got[key] = true
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected %s", p)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*erofs.Stat)
		// Stat.Mode, not fi.Mode(): go-erofs v0.3.1's FileInfo.Mode mixes
		// raw Unix type bits into the fs.FileMode.
		if st.Mode != w.Mode {
			t.Errorf("%s: mode %v want %v", p, st.Mode, w.Mode)
		}
		if st.UID != w.UID || st.GID != w.GID {
			t.Errorf("%s: owner %d:%d want %d:%d", p, st.UID, st.GID, w.UID, w.GID)
		}
		if w.Mode.Type()&fs.ModeDevice != 0 {
			if maj, min := fstree.DecodeDev(st.Rdev); maj != w.Major || min != w.Minor {
				t.Errorf("%s: dev %d:%d want %d:%d", p, maj, min, w.Major, w.Minor)
			}
		}
		for k, v := range w.Xattrs {
			if st.Xattrs[k] != v {
				t.Errorf("%s: xattr %s = %q want %q", p, k, st.Xattrs[k], v)
			}
		}
		if w.Mode.IsRegular() {
			b, err := fs.ReadFile(efs, p)
			if err != nil {
				return err
			}
			if wb, _ := tr.ReadFile(key); !bytes.Equal(b, wb) {
				t.Errorf("%s: contents differ", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("erofs has %d entries, tree %d", len(got), len(want))
	}

	// And with erofs-utils, as root: the extracted tree has the right shape.
	x := it.ExtractErofs(t, img)
	st := func(p string) (os.FileInfo, *syscall.Stat_t) {
		fi, err := os.Lstat(filepath.Join(x, p))
		if err != nil {
			t.Fatal(err)
		}
		return fi, fi.Sys().(*syscall.Stat_t)
	}
	// fsck.erofs chowns after chmod, which clears setuid/setgid: check
	// only the permission bits here (the go-erofs walk above checks all).
	if fi, _ := st("usr/bin/su"); fi.Mode().Perm() != 0o755 {
		t.Errorf("extracted su: %v", fi.Mode())
	}
	if fi, _ := st("tmp"); fi.Mode().Perm() != 0o777 || !fi.IsDir() {
		t.Errorf("extracted tmp: %v", fi.Mode())
	}
	if fi, s := st("dev/sda"); fi.Mode()&fs.ModeDevice == 0 || s.Rdev != uint64(unix.Mkdev(8, 300)) {
		t.Errorf("extracted dev/sda: %v rdev %x", fi.Mode(), s.Rdev)
	}
	if b, err := os.ReadFile(filepath.Join(x, "usr/bin/tool-link")); err != nil || string(b) != "#!/bin/sh\necho tool\n" {
		t.Errorf("extracted tool-link: %q %v", b, err)
	}
	if _, s := st("usr/bin/tool-link"); os.Geteuid() == 0 && (s.Uid != 1000 || s.Gid != 1001) {
		t.Errorf("extracted tool-link owner %d:%d", s.Uid, s.Gid)
	}
	if l, err := os.Readlink(filepath.Join(x, "etc/alt")); err != nil || l != "/usr/bin/tool" {
		t.Errorf("extracted etc/alt -> %q, %v", l, err)
	}
	if _, err := os.Lstat(filepath.Join(x, "gone.txt")); !os.IsNotExist(err) {
		t.Errorf("whiteout: gone.txt still there (%v)", err)
	}
	if _, err := os.Lstat(filepath.Join(x, "opq/lower1")); !os.IsNotExist(err) {
		t.Errorf("opaque: opq/lower1 still there (%v)", err)
	}
}
