package volume

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
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

// newStore opens a store in a new directory, which it returns.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not found")
	}
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(filepath.Join(dir, "volumes"), db)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestStore(t *testing.T) {
	s, _ := newStore(t)
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

// TestConcurrentEnsure: ensures and removals of one name run one at a
// time (one volume, one disk), other names' alongside.
func TestConcurrentEnsure(t *testing.T) {
	s, dir := newStore(t)
	var wg sync.WaitGroup
	var created atomic.Int32
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"a", "b"}[i%2]
			r, made, err := s.Ensure(name)
			if err != nil {
				t.Error(err)
				return
			}
			if made {
				created.Add(1)
			}
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	if created.Load() != 2 {
		t.Errorf("%d volumes created, want 2", created.Load())
	}
	for i := range ids {
		if ids[i] != ids[i%2] {
			t.Errorf("ensure %d: volume %s, want %s", i, ids[i], ids[i%2])
		}
	}
	disks, _ := filepath.Glob(filepath.Join(dir, "volumes", "*.ext4"))
	if len(disks) != 2 {
		t.Errorf("%d disks, want 2", len(disks))
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- s.Remove("a") }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), errdefs.ErrNotFound) {
		t.Errorf("two removals: %v, %v; want one to succeed and one NotFound", e1, e2)
	}
}
