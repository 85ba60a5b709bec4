package initramfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRoundTripWithCpio extracts the archive with the system cpio tool,
// when present, to check the format against an independent reader.
func TestRoundTripWithCpio(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []Entry{
		File("init", 0o755, []byte("#!/bin/sh\necho hi\n")),
		Dir("dev", 0o755),
		Dir("etc", 0o755),
		File("etc/odd", 0o644, []byte("abc")),
		{Path: "bin/sh", Mode: TypeSymlink | 0o777, Data: []byte("busybox")},
		Dir("bin", 0o755),
	})
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Fatalf("archive length %d not 4-aligned", buf.Len())
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio tool not installed; format checked only by alignment")
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "etc/odd"))
	if err != nil || string(b) != "abc" {
		t.Fatalf("etc/odd = %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "init"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("init: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "busybox" {
		t.Fatalf("bin/sh -> %q, %v", l, err)
	}
}

func TestRejectsEscapingPath(t *testing.T) {
	if err := Write(&bytes.Buffer{}, []Entry{File("../x", 0o644, nil)}); err == nil {
		t.Fatal("expected error for ../x")
	}
}
