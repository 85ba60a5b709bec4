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

func TestMigrate(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, k := range []string{"a", "b", "c"} {
		d.Put("pods", k, rec{k})
	}
	d.Put("other", "a", rec{"other"})
	get := func(bucket, key string) string {
		var r rec
		if err := d.Get(bucket, key, &r); err != nil {
			t.Fatal(err)
		}
		return r.Name
	}
	if n, err := d.Migrate("none", nil); n != 0 || err != nil {
		t.Fatalf("missing bucket: %d, %v", n, err)
	}
	// A failure anywhere changes nothing, before or after it.
	_, err = d.Migrate("pods", func(key string, value []byte) ([]byte, error) {
		if key == "b" {
			return nil, errors.New("unknown version")
		}
		return []byte(`{"Name":"changed"}`), nil
	})
	if err == nil || err.Error() != "migrating pods/b: unknown version" {
		t.Fatalf("failing migration: %v", err)
	}
	if get("pods", "a") != "a" || get("pods", "c") != "c" {
		t.Fatal("a failed migration changed records")
	}
	n, err := d.Migrate("pods", func(key string, value []byte) ([]byte, error) {
		if key == "b" {
			return nil, nil // current already
		}
		return []byte(`{"Name":"` + key + `2"}`), nil
	})
	if n != 2 || err != nil {
		t.Fatalf("migration: %d, %v", n, err)
	}
	if get("pods", "a") != "a2" || get("pods", "b") != "b" || get("pods", "c") != "c2" || get("other", "a") != "other" {
		t.Fatal("migrated records", get("pods", "a"), get("pods", "b"), get("pods", "c"), get("other", "a"))
	}
}
