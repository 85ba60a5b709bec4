package image_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// TestHold: Hold checks that the images exist; SetHolds replaces, Release
// drops; Remove names the holders, by name.
func TestHold(t *testing.T) {
	e := newStore(t, image.Options{})
	a, b, _ := threeImages(t, e)
	if err := e.s.Hold("p", image.User{Name: "p"}, a.ID, "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("hold of a missing image: %v", err)
	}
	if _, err := e.s.Remove(ctx, a.ID, false); err != nil { // the failed hold held nothing
		t.Fatalf("remove after a failed hold: %v", err)
	}
	if err := e.s.Hold("p2", image.User{Name: "zed"}, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Hold("p1", image.User{Name: "alpha"}, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Remove(ctx, b.ID, false); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "stopped pod alpha") {
		t.Fatalf("remove of a held image: %v, want a conflict naming alpha", err)
	}
	e.s.SetHolds("p1", image.User{Name: "alpha", Running: true}, []string{b.ID})
	if _, err := e.s.Remove(ctx, b.ID, true); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "running pod alpha") {
		t.Fatalf("force remove under a running holder: %v", err)
	}
	e.s.SetHolds("p1", image.User{Name: "alpha"}, nil)
	e.s.Release("p2")
	if rr, err := e.s.Remove(ctx, b.ID, false); err != nil || rr.Deleted != b.ID {
		t.Fatalf("remove once released: %+v %v", rr, err)
	}
}

// TestHoldDuringRemove: holds taken while the image is being removed
// again and again either fail (the image went first) or keep the image
// until released: a user recorded after its hold never loses its image.
func TestHoldDuringRemove(t *testing.T) {
	e := newStore(t, image.Options{})
	arc, ids := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(),
		Layers: [][]byte{it.Layer(t, it.File("x", "x", 0o644))}, RepoTags: []string{"x:1"}})
	id := ids[0]
	var wg sync.WaitGroup
	stop := time.Now().Add(time.Second)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for time.Now().Before(stop) {
			if _, err := e.s.Get(ctx, id); errors.Is(err, errdefs.ErrNotFound) {
				if _, err := e.s.Load(ctx, bytes.NewReader(arc)); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := e.s.Remove(ctx, "x:1", false); err != nil && !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound) {
				t.Error(err)
				return
			}
		}
	}()
	held := 0
	go func() {
		defer wg.Done()
		for time.Now().Before(stop) {
			err := e.s.Hold("pod", image.User{Name: "pod"}, id)
			if errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Error(err)
				return
			}
			held++
			if _, err := e.s.Get(ctx, id); err != nil {
				t.Errorf("held image: %v", err)
			}
			if _, err := e.s.Rootfs(ctx, id); err != nil {
				t.Errorf("rootfs of a held image: %v", err)
			}
			e.s.Release("pod")
		}
	}()
	wg.Wait()
	if held == 0 {
		t.Error("no hold succeeded")
	}
}
