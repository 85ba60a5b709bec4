package store

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

type rec struct{ Name string }

func TestStore(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.db")
	d, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Create("pods", "a", rec{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Create("pods", "a", rec{"a"}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	d.Put("pods", "b", rec{"b"})
	var r rec
	if err := d.Get("pods", "b", &r); err != nil || r.Name != "b" {
		t.Fatal(r, err)
	}
	if err := d.Get("pods", "zz", &r); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatal(err)
	}
	all, err := List[rec](d, "pods")
	if err != nil || len(all) != 2 {
		t.Fatal(all, err)
	}
	d.Delete("pods", "a")
	d.Close()
	// State survives reopening; a second opener is refused while held.
	d, _ = Open(p)
	defer d.Close()
	if _, err := Open(p); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("second open: %v", err)
	}
	all, _ = List[rec](d, "pods")
	if len(all) != 1 || all[0].Name != "b" {
		t.Fatal(all)
	}
}
