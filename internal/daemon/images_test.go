package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
	"github.com/hyperhq/hyper/internal/sandbox"
	"github.com/hyperhq/hyper/internal/store"
	"github.com/hyperhq/hyper/internal/volume"
)

// newStoreDaemon is a daemon with its state database, image store and
// volumes, but no VM driver and no network: enough for creating and
// removing pods and images, never for starting them. A busybox:latest
// image is loaded.
func newStoreDaemon(t *testing.T) *Daemon {
	t.Helper()
	root := t.TempDir()
	db, err := store.Open(filepath.Join(root, "hyperd.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &Daemon{cfg: Config{Root: root}, db: db, log: log, pods: map[string]*pod{}, execs: map[string]*execution{},
		reserved: map[string]bool{}, leaving: map[string]*pod{}}
	if err := d.openImages(); err != nil {
		t.Fatal(err)
	}
	d.vols = &volumes{root: root, runDir: filepath.Join(root, "run"), log: log}
	if d.vols.store, err = volume.Open(filepath.Join(root, "volumes"), db); err != nil {
		t.Fatal(err)
	}
	arc, _ := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(),
		Layers: [][]byte{it.Layer(t, it.File("bin/true", "", 0o755))}, RepoTags: []string{"busybox:latest"}})
	if _, err := d.Images().Load(context.Background(), bytes.NewReader(arc)); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRemoveImageWhileCreating: `hyperctl rmi busybox:latest` (refused:
// a pod uses it) and `hyperctl create busybox true` in two loops side by
// side. They once wedged hyperd: Remove called back into the daemon (for
// the image's users) from inside its write transaction, while Create held
// the daemon's lock across its own write. A watchdog fails the test, with
// every goroutine's stack, if any call takes over 10 s.
func TestRemoveImageWhileCreating(t *testing.T) {
	d := newStoreDaemon(t)
	var wedged atomic.Bool
	t.Cleanup(func() {
		if !wedged.Load() { // a wedged database would not close
			d.db.Close()
		}
	})
	ctx := context.Background()
	spec := func(name string) types.PodSpec {
		return types.PodSpec{Name: name, Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"true"}}}}
	}
	if _, err := d.Pods().Create(ctx, spec("user")); err != nil {
		t.Fatal(err)
	}

	const loops = 3 * time.Second
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		calls   = map[string]time.Time{} // call in progress -> its start
		errs    []error
		stopped atomic.Bool
	)
	count := map[string]int{}
	call := func(what string, f func() error) {
		mu.Lock()
		calls[what] = time.Now()
		mu.Unlock()
		err := f()
		mu.Lock()
		delete(calls, what)
		count[what]++
		if err != nil {
			errs = append(errs, err)
		}
		mu.Unlock()
	}
	loop := func(f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stopped.Load(); i++ {
				f(i)
			}
		}()
	}
	loop(func(i int) {
		call("rmi", func() error {
			_, err := d.Images().RemoveImage(ctx, "busybox:latest", false)
			if !errors.Is(err, errdefs.ErrConflict) {
				return errors.New("rmi of an image in use: " + errString(err))
			}
			return nil
		})
		call("prune", func() error {
			res, err := d.Images().PruneImages(ctx, i%2 == 0)
			if err == nil && len(res.Images) > 0 {
				return errors.New("prune deleted an image in use")
			}
			return err
		})
	})
	loop(func(i int) {
		call("create", func() error {
			cr, err := d.Pods().Create(ctx, spec("loop"))
			if err != nil {
				return err
			}
			return d.Pods().Remove(ctx, cr.ID, false)
		})
	})

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	stop := time.After(loops)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			for _, err := range errs {
				t.Error(err)
			}
			t.Logf("calls: %v", count)
			for _, what := range []string{"rmi", "prune", "create"} {
				if count[what] < 10 {
					t.Errorf("only %d %s calls in %v", count[what], what, loops)
				}
			}
			return
		case <-stop:
			stopped.Store(true)
		case <-tick.C:
		}
		mu.Lock()
		for what, since := range calls {
			if time.Since(since) > 10*time.Second {
				mu.Unlock()
				wedged.Store(true)
				var b bytes.Buffer
				pprof.Lookup("goroutine").WriteTo(&b, 2)
				os.Stderr.Write(b.Bytes())
				t.Fatalf("%s has taken over 10 s: deadlock (goroutines above)", what)
			}
		}
		mu.Unlock()
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestImageHolds: the pods' images are held as their records and states
// say: a created pod's, an added container's until it is removed, a
// starting pod's as running; none once the pod is gone.
func TestImageHolds(t *testing.T) {
	d := newStoreDaemon(t)
	t.Cleanup(func() { d.db.Close() })
	ctx := context.Background()
	arc, ids := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(),
		Layers: [][]byte{it.Layer(t, it.File("other", "", 0o644))}, RepoTags: []string{"other:1"}})
	if _, err := d.Images().Load(ctx, bytes.NewReader(arc)); err != nil {
		t.Fatal(err)
	}
	other := ids[0]
	rmi := func(ref string, force bool, want string) {
		t.Helper()
		_, err := d.Images().RemoveImage(ctx, ref, force)
		if want == "" && err != nil || want != "" && (!errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), want)) {
			t.Fatalf("rmi %s (force %v): %v, want %q", ref, force, err, want)
		}
	}
	cr, err := d.Pods().Create(ctx, types.PodSpec{Name: "p", Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	rmi("busybox:latest", false, "pod p is using its referenced image")
	if _, err := d.Containers().Add(ctx, "p", types.ContainerSpec{Name: "side", Image: "other:1", Cmd: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	rmi(other, false, "being used by stopped pod p")
	if du, err := d.Images().DiskUsage(ctx); err != nil || du.Images.Active != 2 {
		t.Fatalf("df: %+v %v, want 2 images active", du, err)
	}

	// A starting pod uses its images as a running one.
	p, _ := d.lookup(cr.ID)
	preparing, unblock, started := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		started <- p.sb.Start(ctx, func(context.Context) (sandbox.Run, error) {
			close(preparing)
			<-unblock
			return sandbox.Run{}, errors.New("not booting in this test")
		})
	}()
	<-preparing
	rmi(other, true, "(cannot be forced) - image is being used by running pod p")
	close(unblock)
	<-started

	if err := d.Containers().Remove(ctx, "p", "side", false); err != nil {
		t.Fatal(err)
	}
	rmi("other:1", false, "")
	if err := d.Pods().Remove(ctx, "p", false); err != nil {
		t.Fatal(err)
	}
	rmi("busybox:latest", false, "")
}
