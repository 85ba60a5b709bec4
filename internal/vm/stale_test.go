package vm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveStale: a stopped VM's leftover state directory is removed
// (and none is no error); an ID that is no VM's name touches nothing.
func TestRemoveStale(t *testing.T) {
	cfg := Config{RunDir: t.TempDir()}
	dir := filepath.Join(cfg.RunDir, "abc123")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := RemoveStale(t.Context(), cfg, "abc123", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir left: %v", err)
	}
	if err := RemoveStale(t.Context(), cfg, "abc123", 0); err != nil {
		t.Errorf("nothing left: %v", err)
	}
	for _, bad := range []string{"", ".", "..", "../x"} {
		if err := RemoveStale(t.Context(), cfg, bad, 0); err != nil {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := os.Stat(cfg.RunDir); err != nil {
		t.Errorf("run dir: %v", err)
	}
}
