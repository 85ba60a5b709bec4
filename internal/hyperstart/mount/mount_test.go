package mount

import (
	"path/filepath"
	"testing"
)

func TestIsMountPoint(t *testing.T) {
	if !IsMountPoint("/") {
		t.Error("/ is not a mountpoint")
	}
	dir := t.TempDir()
	if IsMountPoint(dir) && IsMountPoint(filepath.Join(dir, "x")) {
		t.Error("missing path is a mountpoint")
	}
	if IsMountPoint(filepath.Join(dir, "missing")) {
		t.Error("missing path is a mountpoint")
	}
}

func TestTableSkipsMounted(t *testing.T) {
	// "/" is mounted: the entry is skipped, so no mount(2) is attempted.
	skipped, err := Table([]Entry{{Source: "none", Target: "/", FSType: "bogus"}})
	if err != nil || len(skipped) != 0 {
		t.Fatal(skipped, err)
	}
}

func TestUnmountNotMounted(t *testing.T) {
	if err := Unmount(t.TempDir()); err != nil && !isPerm(err) {
		t.Fatal(err)
	}
}
