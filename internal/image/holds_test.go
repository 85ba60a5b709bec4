package image_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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

// TestFailedHoldKeepsEarlierHolds: a Hold that fails drops only what it
// added: the holder's earlier holds stay.
func TestFailedHoldKeepsEarlierHolds(t *testing.T) {
	e := newStore(t, image.Options{})
	a, b, _ := threeImages(t, e)
	if err := e.s.Hold("p", image.User{Name: "p"}, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Hold("p", image.User{Name: "p"}, a.ID, b.ID, "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("hold of a missing image: %v", err)
	}
	if _, err := e.s.Remove(ctx, a.ID, false); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "stopped pod p") {
		t.Fatalf("remove of an image held before a failed hold: %v, want a conflict naming p", err)
	}
	if rr, err := e.s.Remove(ctx, b.ID, false); err != nil || rr.Deleted != b.ID {
		t.Fatalf("remove of an image only the failed hold named: %+v %v", rr, err)
	}
}

// TestNoHoldsLockAcrossTransaction: while a removal or a prune waits for
// its write transaction (another one is open), holds are taken, set and
// released without waiting, and a hold of an image it is deleting fails
// at once.
func TestNoHoldsLockAcrossTransaction(t *testing.T) {
	for _, prune := range []bool{false, true} {
		t.Run(fmt.Sprintf("prune=%v", prune), func(t *testing.T) {
			e := newStore(t, image.Options{})
			a, b, _ := threeImages(t, e)
			if err := e.s.Hold("b", image.User{Name: "b"}, b.ID); err != nil {
				t.Fatal(err)
			}
			tx, err := e.db.Begin(true) // the write transaction to wait for
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				var err error
				if prune {
					_, err = e.s.Prune(ctx, true)
				} else {
					_, err = e.s.Remove(ctx, a.ID, false)
				}
				done <- err
			}()
			for !image.Removing(e.s, a.ID) {
				select {
				case err := <-done:
					t.Fatalf("finished with a write transaction open: %v", err)
				case <-time.After(time.Millisecond):
				}
			}
			quick := func(what string, f func() error) error {
				t.Helper()
				res := make(chan error, 1)
				go func() { res <- f() }()
				select {
				case err := <-res:
					return err
				case <-time.After(10 * time.Second):
					t.Fatalf("%s waited for the removal's transaction", what)
					return nil
				}
			}
			if err := quick("hold", func() error { return e.s.Hold("q", image.User{Name: "q"}, b.ID) }); err != nil {
				t.Fatalf("hold of another image: %v", err)
			}
			err = quick("hold", func() error { return e.s.Hold("q", image.User{Name: "q"}, a.ID) })
			if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "is being removed") {
				t.Fatalf("hold of the image being removed: %v", err)
			}
			quick("set holds", func() error { e.s.SetHolds("q", image.User{Name: "q", Running: true}, []string{b.ID}); return nil })
			quick("release", func() error { e.s.Release("q"); return nil })
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.Get(ctx, a.ID); !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("removed image: %v", err)
			}
			if image.Removing(e.s, a.ID) {
				t.Fatal("still marked as removing")
			}
			if err := e.s.Hold("q", image.User{Name: "q"}, a.ID); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no such image") {
				t.Fatalf("hold of the removed image: %v", err)
			}
			if _, err := e.s.Get(ctx, b.ID); err != nil {
				t.Fatalf("held image: %v", err)
			}
		})
	}
}

// TestHoldRacesRemoveAndPrune: holds race removals (by name and by ID,
// without force) and prunes (all, and dangling only) of the same images
// in loops; after each Hold that succeeds, the image stays in the store
// until it is released.
func TestHoldRacesRemoveAndPrune(t *testing.T) {
	e := newStore(t, image.Options{})
	arc, ids := it.ClassicArchive(t,
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{it.Layer(t, it.File("x", "x", 0o644))}, RepoTags: []string{"x:1"}},
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{it.Layer(t, it.File("y", "y", 0o644))}}) // dangling
	var (
		wg      sync.WaitGroup
		stop    = time.Now().Add(2 * time.Second)
		removed atomic.Int64
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; time.Now().Before(stop); i++ {
			for _, id := range ids {
				if _, err := e.s.Get(ctx, id); errors.Is(err, errdefs.ErrNotFound) {
					if _, err := e.s.Load(ctx, bytes.NewReader(arc)); err != nil {
						t.Error(err)
						return
					}
				}
			}
			var err error
			switch i % 4 {
			case 0:
				_, err = e.s.Remove(ctx, "x:1", false)
			case 1:
				_, err = e.s.Remove(ctx, ids[i/4%2], false)
			case 2:
				var res image.PruneResult
				res, err = e.s.Prune(ctx, true)
				removed.Add(int64(len(res.Images)))
			case 3:
				var res image.PruneResult
				res, err = e.s.Prune(ctx, false)
				removed.Add(int64(len(res.Images)))
			}
			if err != nil && !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound) {
				t.Error(err)
				return
			}
			if err == nil && i%4 < 2 {
				removed.Add(1)
			}
		}
	}()
	var held [2]atomic.Int64
	for h := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("pod%d", h)
			for i := 0; time.Now().Before(stop); i++ {
				id := ids[(i+h)%2]
				err := e.s.Hold(holder, image.User{Name: holder}, id)
				if errors.Is(err, errdefs.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				held[h].Add(1)
				for range 3 {
					if _, err := e.s.Get(ctx, id); err != nil {
						t.Errorf("held image: %v", err)
					}
					time.Sleep(100 * time.Microsecond) // let the removals try
				}
				if _, err := e.s.Rootfs(ctx, id); err != nil {
					t.Errorf("rootfs of a held image: %v", err)
				}
				e.s.Release(holder)
			}
		}()
	}
	wg.Wait()
	if held[0].Load() == 0 || held[1].Load() == 0 || removed.Load() == 0 {
		t.Errorf("holds %d and %d, removals %d: want some of each", held[0].Load(), held[1].Load(), removed.Load())
	}
}

// TestHoldBeingChecked: between recording its images and finding them in
// the store, a Hold counts as holding them: removals without force are
// refused, prunes keep them, and a forced removal makes the Hold fail.
func TestHoldBeingChecked(t *testing.T) {
	e := newStore(t, image.Options{})
	a, b, _ := threeImages(t, e)
	if err := e.s.Hold("keep", image.User{Name: "keep"}, b.ID); err != nil { // from the prune
		t.Fatal(err)
	}
	image.OnHoldCheck(e.s, func() {
		if _, err := e.s.Remove(ctx, a.ID, false); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "stopped pod p") {
			t.Errorf("remove during a hold: %v, want a conflict naming p", err)
		}
		if _, err := e.s.Remove(ctx, "a:1", false); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "pod p is using") {
			t.Errorf("remove by name during a hold: %v, want a conflict naming p", err)
		}
		res, err := e.s.Prune(ctx, true)
		if err != nil {
			t.Error(err)
		}
		for _, r := range res.Images {
			if r.Deleted == a.ID {
				t.Error("prune deleted an image a hold was checking")
			}
		}
	})
	if err := e.s.Hold("p", image.User{Name: "p"}, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Get(ctx, a.ID); err != nil {
		t.Fatalf("held image: %v", err)
	}
	image.OnHoldCheck(e.s, func() {
		if rr, err := e.s.Remove(ctx, b.ID, true); err != nil || rr.Deleted != b.ID {
			t.Errorf("forced remove during a hold: %+v %v", rr, err)
		}
	})
	if err := e.s.Hold("q", image.User{Name: "q"}, b.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("hold of an image force-removed during it: %v", err)
	}
	image.OnHoldCheck(e.s, nil)
	if _, err := e.s.Remove(ctx, a.ID, false); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "stopped pod p") {
		t.Fatalf("remove of a held image: %v", err)
	}
}
