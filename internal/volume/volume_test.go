package volume

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/store"
)

func TestCheckName(t *testing.T) {
	for _, n := range []string{"a", "data", "my_vol.1-2", "0abc"} {
		if err := CheckName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range []string{"", "-a", ".a", "_a", "a/b", "a b", "/abs", "a:b", string(make([]byte, 200))} {
		if err := CheckName(n); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: got %v", n, err)
		}
	}
}

func TestStore(t *testing.T) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not found")
	}
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := Open(filepath.Join(dir, "volumes"), db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Create("data", 64, map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Serial()) != 20 || r.Serial()[:2] != "v-" {
		t.Errorf("serial %q", r.Serial())
	}
	if st, err := os.Stat(r.Path); err != nil || st.Size() != 64<<20 {
		t.Fatalf("disk: %v %v", st, err)
	}
	if _, err := s.Create("data", 0, nil); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second create: %v", err)
	}
	again, created, err := s.Ensure("data")
	if err != nil || created || again.ID != r.ID {
		t.Errorf("ensure existing: %v %v %v", again, created, err)
	}
	other, created, err := s.Ensure("other")
	if err != nil || !created || other.SizeMB != DefaultSizeMB {
		t.Errorf("ensure new: %+v %v %v", other, created, err)
	}
	if rs, _ := s.List(); len(rs) != 2 || rs[0].Name != "data" {
		t.Errorf("list %+v", rs)
	}
	if _, err := s.Create("bad/name", 0, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad name: %v", err)
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("disk left: %v", err)
	}
	if _, err := s.Get("data"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("get removed: %v", err)
	}
	if err := s.Remove("data"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
}
