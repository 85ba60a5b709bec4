package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gcrname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/testenv"
)

// The stress test's bounds: no request may take longer than requestLimit,
// nor hyperd longer than stopLimit to exit on SIGTERM.
const (
	requestLimit = 10 * time.Second
	stopLimit    = 10 * time.Second
)

// Names the stress test gives things.
const (
	stressKeep   = "stress/keep:latest"  // a second name of busybox: rmi by ID is always refused
	stressExtra  = "stress/extra:latest" // reloaded as a new image again and again; some pods use it
	stressShared = "stress-shared"       // a named volume some pods mount while the volume worker removes it
	victimLabel  = "stress.victim"       // pods the observer stops, kills and removes
)

// TestStress drives one hyperd, built with the race detector, with parallel
// clients for HYPER_STRESS_SECONDS (default 60):
//
//   - pod workers run pods through their lifecycle: create, attach and wait
//     (before start), start, logs -f, inspect, exec, a container added and
//     removed, logs, then stop, kill, rm -f or the pod's own exit, then rm;
//     some pods are left to the observer as victims;
//   - a churn worker creates pods and removes them unstarted, many a
//     second (each a write to the state database under the daemon's lock);
//   - an image worker loads, tags, untags, removes and prunes images; rmi
//     by ID of the image the pods use is always refused;
//   - a volume worker creates, inspects and removes volumes, and removes
//     the one some pods mount (refused while they use it);
//   - an observer lists and inspects pods and reads their logs, and stops,
//     kills and removes the victims, racing their creators' own rm.
//
// Conflict and NotFound from racing operations are expected; any other
// error fails the test. So does a request taking longer than requestLimit:
// a watchdog then dumps hyperd's goroutines into its log (SIGQUIT) and the
// test's own into the test log. At the end hyperd gets SIGTERM with an
// attach, a wait, a logs -f and an exec in flight: it must exit within
// stopLimit, leaving its pod running for the next hyperd to re-attach.
// Any data race hyperd reports fails the test.
//
// HYPER_STRESS_NO_RMI=1 leaves out what asks the image store whether an
// image is in use (rmi that deletes, prune), for runs on a daemon with a
// known deadlock there.
func TestStress(t *testing.T) {
	dur := 60 * time.Second
	if v := os.Getenv("HYPER_STRESS_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("HYPER_STRESS_SECONDS=%q: want a positive number of seconds", v)
		}
		dur = time.Duration(n) * time.Second
	}
	s := &stress{t: t, rmi: os.Getenv("HYPER_STRESS_NO_RMI") != "1",
		inflight: map[*request]struct{}{}, stats: map[string]*opStats{}}
	// Registered before launch, so run after the harness has stopped the
	// last hyperd.
	t.Cleanup(func() { s.checkRaces() })
	s.h = launch(t, &hyperd{bin: testenv.RaceBinary(t, "./cmd/hyperd")})
	s.c = s.h.client
	s.setup()

	ctx, cancel := context.WithCancel(context.Background())
	s.ctx, s.cancel = ctx, cancel
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); s.watch() }()
	defer func() { s.cancel(); <-watchDone }()

	var wg sync.WaitGroup
	workers := []func(*rand.Rand){s.podWorker(0), s.podWorker(1), s.churn, s.imageWorker, s.volumeWorker, s.observer, s.watcher}
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i))))
		}()
	}
	start := time.Now()
	select {
	case <-time.After(dur):
	case <-s.ctx.Done(): // failed
	}
	s.winding.Store(true)
	load := time.Since(start)
	wg.Wait()
	t.Logf("stress: %v of load, %v to wind down", load.Round(time.Millisecond), (time.Since(start) - load).Round(time.Millisecond))
	s.report()
	if s.failed.Load() {
		s.h.cmd.Wait() // SIGQUIT: its goroutines are in its log
		return
	}
	s.stopWithStreamsOpen()
}

// stress is one run of TestStress.
type stress struct {
	t      *testing.T
	h      *hyperd
	c      *client.Client
	rmi    bool // the requests that ask whether an image is in use
	ctx    context.Context
	cancel context.CancelFunc
	// winding: the run is over, workers finish what they are doing.
	winding atomic.Bool
	failed  atomic.Bool // a request hung: hyperd got SIGQUIT

	busybox   v1.Image
	busyboxID string
	extra     atomic.Int64 // generation of stressExtra

	mu       sync.Mutex
	inflight map[*request]struct{}
	stats    map[string]*opStats
	races    int // reports already seen
}

// request is a request in flight. A long-lived one (attach, wait, logs -f)
// is watched only once armed: when its pod is told to end.
type request struct {
	name  string
	start time.Time
	armed bool
}

type opStats struct {
	n, conflict, notFound int
	max                   time.Duration
}

func (s *stress) running() bool { return !s.winding.Load() && !s.failed.Load() }

// begin registers a request; armed says whether the watchdog watches it
// from now on.
func (s *stress) begin(name string, armed bool) *request {
	r := &request{name: name, start: time.Now(), armed: armed}
	s.mu.Lock()
	s.inflight[r] = struct{}{}
	s.mu.Unlock()
	return r
}

// arm starts the watchdog's clock on a long-lived request.
func (s *stress) arm(r *request) {
	s.mu.Lock()
	r.start, r.armed = time.Now(), true
	s.mu.Unlock()
}

// end unregisters r and checks err: nil if the request succeeded, err if
// it failed with a kind racing operations cause (Conflict, NotFound),
// else err after failing the test.
func (s *stress) end(r *request, err error) error {
	s.mu.Lock()
	delete(s.inflight, r)
	st := s.stats[r.name]
	if st == nil {
		st = &opStats{}
		s.stats[r.name] = st
	}
	st.n++
	if d := time.Since(r.start); d > st.max {
		st.max = d
	}
	switch {
	case errors.Is(err, errdefs.ErrConflict):
		st.conflict++
	case errors.Is(err, errdefs.ErrNotFound):
		st.notFound++
	}
	s.mu.Unlock()
	if err != nil && !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound) && !s.failed.Load() {
		s.t.Errorf("%s: %v", r.name, err)
	}
	return err
}

// call runs one request under the watchdog (see end for its error).
func (s *stress) call(name string, fn func(context.Context) error) error {
	r := s.begin(name, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.end(r, fn(ctx))
}

// expect fails the test unless cond holds, reporting what was got.
func (s *stress) expect(cond bool, format string, args ...any) {
	s.t.Helper()
	if !cond && !s.failed.Load() {
		s.t.Errorf(format, args...)
	}
}

// watch fails the run as soon as a request overruns requestLimit.
func (s *stress) watch() {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		var late []string
		s.mu.Lock()
		reqs := make([]*request, 0, len(s.inflight))
		for r := range s.inflight {
			reqs = append(reqs, r)
		}
		sort.Slice(reqs, func(i, j int) bool { return reqs[i].start.Before(reqs[j].start) })
		all := make([]string, len(reqs))
		for i, r := range reqs {
			age := time.Since(r.start).Round(time.Millisecond)
			all[i] = fmt.Sprintf("%s (%v)", r.name, age)
			if !r.armed {
				all[i] = fmt.Sprintf("%s (%v, not watched yet)", r.name, age)
			} else if age > requestLimit {
				late = append(late, all[i])
			}
		}
		s.mu.Unlock()
		if len(late) > 0 {
			s.hung(late, all)
			return
		}
	}
}

// hung fails the test on requests that overran, with every goroutine's
// stack: hyperd's in its log (SIGQUIT ends it), the test's in the test log.
func (s *stress) hung(late, all []string) {
	s.failed.Store(true)
	s.t.Errorf("requests took longer than %v: %s\nin flight, oldest first:\n  %s\n"+
		"hyperd's goroutines follow in its log (SIGQUIT); the test's are below",
		requestLimit, strings.Join(late, ", "), strings.Join(all, "\n  "))
	buf := make([]byte, 8<<20)
	s.t.Logf("the test's goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	s.h.cmd.Process.Signal(syscall.SIGQUIT)
	s.cancel()
}

// setup loads the images, names busybox twice, creates the shared volume
// and runs one pod (which waits for the VM template hyperd builds first).
func (s *stress) setup() {
	t, ctx := s.t, s.h.ctx()
	s.busybox = busyboxImage(t)
	var archive bytes.Buffer
	if err := writeImage(&archive, "busybox:latest", s.busybox); err != nil {
		t.Fatal(err)
	}
	imgs, err := s.c.LoadImages(ctx, &archive)
	if err != nil || len(imgs) != 1 {
		t.Fatalf("loading busybox: %v %v", imgs, err)
	}
	s.busyboxID = imgs[0].ID
	if err := s.c.TagImage(ctx, "busybox", stressKeep); err != nil {
		t.Fatal(err)
	}
	if err := s.loadExtra(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.CreateVolume(ctx, types.VolumeCreateRequest{Name: stressShared, SizeMB: 64}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cr, err := s.c.CreatePod(ctx, types.PodSpec{Name: "warmup", AutoRemove: true,
		Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		_, err := s.c.Wait(ctx, cr.ID, func() { close(ready) })
		waited <- err
	}()
	select {
	case <-ready:
	case err := <-waited:
		t.Fatalf("wait: %v", err)
	}
	if err := s.c.StartPod(ctx, cr.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	t.Logf("warm-up pod ran in %v", time.Since(start).Round(time.Millisecond))
}

// writeImage writes img as ref in a docker-save archive.
func writeImage(w *bytes.Buffer, ref string, img v1.Image) error {
	tag, err := gcrname.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.Write(tag, img, w)
}

// loadExtra loads a new image as stressExtra: the previous one is left
// without a name (or is gone, if removed), for prune.
func (s *stress) loadExtra(ctx context.Context) error {
	n := s.extra.Add(1)
	img, err := mutate.Config(s.busybox, v1.Config{Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", fmt.Sprintf("STRESS=%d", n)}})
	if err != nil {
		return err
	}
	var archive bytes.Buffer
	if err := writeImage(&archive, stressExtra, img); err != nil {
		return err
	}
	_, err = s.c.LoadImages(ctx, &archive)
	return err
}

// podWorker runs pods one after the other.
func (s *stress) podWorker(w int) func(*rand.Rand) {
	return func(rng *rand.Rand) {
		for n := 0; s.running(); n++ {
			name := fmt.Sprintf("w%d-%d", w, n)
			if rng.IntN(4) == 0 {
				s.victim(name)
				continue
			}
			s.podCycle(name, rng)
		}
	}
}

// How a pod cycle ends.
const (
	endStop = iota
	endKill
	endRemove // rm -f while it runs
	endExit   // its command ends
)

// podCycle runs one pod of its own through its life, checking what it sees.
func (s *stress) podCycle(name string, rng *rand.Rand) {
	ending := rng.IntN(4)
	script := "echo start; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"
	if ending == endExit {
		script = "echo start; sleep 1; echo bye"
	}
	spec := types.PodSpec{Name: name, AutoRemove: rng.IntN(5) == 0,
		Containers: []types.ContainerSpec{{Name: "main", Image: "busybox", Cmd: []string{"sh", "-c", script}}}}
	if rng.IntN(4) == 0 {
		spec.Containers[0].Image = stressExtra // the image worker removes it and prunes
	}
	if rng.IntN(3) == 0 {
		spec.Volumes = []types.Volume{{Name: "data", Named: &types.NamedVolumeSource{Name: stressShared}}}
		spec.Containers[0].VolumeMounts = []types.VolumeMount{{Name: "data", MountPath: "/data"}}
	}
	var id string
	if s.call("create", func(ctx context.Context) error {
		cr, err := s.c.CreatePod(ctx, spec)
		id = cr.ID
		return err
	}) != nil {
		return // its image or volume just went
	}
	removed := false
	defer func() {
		if !removed {
			s.call("rm -f", func(ctx context.Context) error { return s.c.RemovePod(ctx, id, true) })
		}
	}()

	// The long-lived requests, from before the start to the pod's end.
	var streams sync.WaitGroup
	var long []*request
	stream := func(what string, fn func(ctx context.Context, r *request) error) {
		r := s.begin(what, false)
		long = append(long, r)
		streams.Add(1)
		go func() {
			defer streams.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s.end(r, fn(ctx, r))
		}()
	}
	var attached bytes.Buffer
	ready := make(chan struct{})
	stream("attach", func(ctx context.Context, _ *request) error {
		st, err := s.c.Attach(ctx, id, client.AttachOptions{Stdout: true, Stderr: true})
		close(ready)
		if err != nil {
			return err
		}
		defer st.Close()
		return st.Copy(&attached, &attached)
	})
	<-ready
	var exit types.WaitResponse
	ready = make(chan struct{})
	stream("wait", func(ctx context.Context, _ *request) error {
		var once sync.Once
		registered := func() { once.Do(func() { close(ready) }) }
		defer registered() // on an error too
		var err error
		exit, err = s.c.Wait(ctx, id, registered)
		return err
	})
	<-ready
	started := s.call("start", func(ctx context.Context) error { return s.c.StartPod(ctx, id) }) == nil
	if started {
		stream("logs -f", func(ctx context.Context, _ *request) error {
			return s.c.Logs(ctx, id, types.LogOptions{Follow: true}, func(types.LogEntry) error { return nil })
		})
		s.call("inspect", func(ctx context.Context) error {
			p, err := s.c.GetPod(ctx, id)
			s.expect(err != nil || ending == endExit || p.State == types.StateRunning, "pod %s just started is %s", name, p.State)
			return err
		})
	}
	if started && ending != endExit {
		for i := range 1 + rng.IntN(3) {
			s.exec(id, fmt.Sprintf("%s-%d", name, i))
		}
		if rng.IntN(4) == 0 {
			s.addRemoveContainer(id)
		}
		s.call("logs", func(ctx context.Context) error {
			var got strings.Builder
			err := s.c.Logs(ctx, id, types.LogOptions{Tail: 50}, func(e types.LogEntry) error {
				got.WriteString(e.Log)
				return nil
			})
			s.expect(err != nil || strings.Contains(got.String(), "tick"), "logs of %s: %q", name, got.String())
			return err
		})
	}

	for _, r := range long {
		s.arm(r) // the pod ends now: so must they, within requestLimit
	}
	switch {
	case !started:
	case ending == endStop:
		s.call("stop", func(ctx context.Context) error { return s.c.StopPod(ctx, id, 2*time.Second) })
	case ending == endKill:
		s.call("kill", func(ctx context.Context) error { return s.c.KillPod(ctx, id, "KILL") })
	case ending == endRemove:
		removed = true
		s.call("rm -f running", func(ctx context.Context) error { return s.c.RemovePod(ctx, id, true) })
	}
	if !started {
		removed = true
		s.call("rm never started", func(ctx context.Context) error { return s.c.RemovePod(ctx, id, true) })
	}
	streams.Wait()
	if started {
		s.expect(strings.HasPrefix(attached.String(), "start\n"), "attach to %s: %q", name, attached.String())
		s.expect(ending != endExit || exit.ExitCode == 0, "%s exited %d (%s), want 0", name, exit.ExitCode, exit.Reason)
	}
	if !removed {
		removed = true
		err := s.call("rm", func(ctx context.Context) error { return s.c.RemovePod(ctx, id, false) })
		s.expect(err == nil || spec.AutoRemove && errors.Is(err, errdefs.ErrNotFound), "rm %s: %v", name, err)
	}
}

// exec runs a command in the pod and checks its output and status.
func (s *stress) exec(pod, word string) {
	var id string
	if s.call("exec create", func(ctx context.Context) error {
		cr, err := s.c.CreateExec(ctx, pod, types.ExecSpec{Cmd: []string{"sh", "-c", "echo " + word + "; cat /etc/hostname >/dev/null"}})
		id = cr.ID
		return err
	}) != nil {
		return
	}
	var out, errb bytes.Buffer
	if s.call("exec start", func(ctx context.Context) error {
		st, err := s.c.StartExec(ctx, id, false)
		if err != nil {
			return err
		}
		defer st.Close()
		return st.Copy(&out, &errb)
	}) != nil {
		return
	}
	s.expect(out.String() == word+"\n" && errb.Len() == 0, "exec %s: stdout %q stderr %q", word, out.String(), errb.String())
	s.call("exec inspect", func(ctx context.Context) error {
		info, err := s.c.InspectExec(ctx, id)
		s.expect(err != nil || !info.Running && info.ExitCode == 0, "exec %s: %+v", word, info)
		return err
	})
}

// addRemoveContainer adds a container to the running pod, then removes it.
func (s *stress) addRemoveContainer(pod string) {
	if s.call("add container", func(ctx context.Context) error {
		_, err := s.c.AddContainer(ctx, pod, types.ContainerSpec{Name: "side", Image: "busybox", Cmd: []string{"sleep", "600"}})
		return err
	}) != nil {
		return
	}
	s.call("rm container", func(ctx context.Context) error { return s.c.RemoveContainer(ctx, pod, "side", true) })
}

// churn creates pods and removes them without starting them: bbolt writes
// under the daemon's lock, many a second, against the image worker's
// in-use checks.
func (s *stress) churn(rng *rand.Rand) {
	for n := 0; s.running(); n++ {
		var id string
		img := "busybox"
		if rng.IntN(2) == 0 {
			img = stressExtra
		}
		if s.call("create unstarted", func(ctx context.Context) error {
			cr, err := s.c.CreatePod(ctx, types.PodSpec{Name: fmt.Sprintf("churn-%d", n),
				Containers: []types.ContainerSpec{{Image: img, Cmd: []string{"true"}}}})
			id = cr.ID
			return err
		}) == nil {
			s.call("rm unstarted", func(ctx context.Context) error { return s.c.RemovePod(ctx, id, false) })
		}
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
	}
}

// victim starts a pod the observer will stop, kill or remove, then
// removes it too (one of the two removals finds it gone).
func (s *stress) victim(name string) {
	var id string
	if s.call("create victim", func(ctx context.Context) error {
		cr, err := s.c.CreatePod(ctx, types.PodSpec{Name: name, Labels: map[string]string{victimLabel: "1"},
			Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"sleep", "600"}}}})
		id = cr.ID
		return err
	}) != nil {
		return
	}
	s.call("start victim", func(ctx context.Context) error { return s.c.StartPod(ctx, id) })
	time.Sleep(time.Second)
	s.call("rm -f victim", func(ctx context.Context) error { return s.c.RemovePod(ctx, id, true) })
}

// imageWorker loads, tags, removes and prunes images.
func (s *stress) imageWorker(rng *rand.Rand) {
	for n := 0; s.running(); n++ {
		s.call("images", func(ctx context.Context) error { _, err := s.c.ListImages(ctx); return err })
		tag := fmt.Sprintf("stress/tag:%d", n)
		if s.call("tag", func(ctx context.Context) error { return s.c.TagImage(ctx, "busybox", tag) }) == nil {
			err := s.call("rmi tag", func(ctx context.Context) error { return s.c.RemoveImage(ctx, tag, false) })
			s.expect(err == nil, "rmi %s (one name of several): %v", tag, err)
		}
		s.call("load", func(ctx context.Context) error { return s.loadExtra(ctx) })
		for range 5 {
			if !s.rmi {
				break
			}
			// Several names, and pods use it: refused.
			err := s.call("rmi in use", func(ctx context.Context) error { return s.c.RemoveImage(ctx, s.busyboxID, false) })
			s.expect(errors.Is(err, errdefs.ErrConflict), "rmi %s (by ID, several names): %v, want a conflict", s.busyboxID, err)
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
		if s.rmi {
			// Deleted unless a pod uses it.
			if rng.IntN(2) == 0 {
				s.call("rmi", func(ctx context.Context) error { return s.c.RemoveImage(ctx, stressExtra, false) })
			}
			s.call("prune", func(ctx context.Context) error { _, err := s.c.PruneImages(ctx, false); return err })
		}
		s.call("df", func(ctx context.Context) error { _, err := s.c.DiskUsage(ctx); return err })
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
	}
}

// volumeWorker creates and removes volumes, and the shared one pods use.
func (s *stress) volumeWorker(rng *rand.Rand) {
	for n := 0; s.running(); n++ {
		name := fmt.Sprintf("stress-v%d", n)
		if s.call("volume create", func(ctx context.Context) error {
			_, err := s.c.CreateVolume(ctx, types.VolumeCreateRequest{Name: name, SizeMB: 32})
			return err
		}) == nil {
			s.call("volume inspect", func(ctx context.Context) error { _, err := s.c.InspectVolume(ctx, name); return err })
			err := s.call("volume rm", func(ctx context.Context) error { return s.c.RemoveVolume(ctx, name) })
			s.expect(err == nil, "volume rm %s (unused): %v", name, err)
		}
		s.call("volume ls", func(ctx context.Context) error { _, err := s.c.ListVolumes(ctx); return err })
		if rng.IntN(3) == 0 {
			// Refused while a pod uses it; pods create it again.
			s.call("volume rm shared", func(ctx context.Context) error { return s.c.RemoveVolume(ctx, stressShared) })
		}
		time.Sleep(time.Duration(200+rng.IntN(400)) * time.Millisecond)
	}
}

// observer lists and inspects pods, reads logs, and ends the victims.
func (s *stress) observer(rng *rand.Rand) {
	for s.running() {
		var pods []types.Pod
		s.call("ps", func(ctx context.Context) error {
			var err error
			pods, err = s.c.ListPods(ctx, true)
			return err
		})
		if len(pods) > 0 {
			p := pods[rng.IntN(len(pods))]
			s.call("inspect other", func(ctx context.Context) error { _, err := s.c.GetPod(ctx, p.ID); return err })
			s.call("logs other", func(ctx context.Context) error {
				return s.c.Logs(ctx, p.ID, types.LogOptions{Tail: 5}, func(types.LogEntry) error { return nil })
			})
		}
		for _, p := range pods {
			if p.Spec.Labels[victimLabel] == "" || rng.IntN(2) == 0 {
				continue
			}
			switch rng.IntN(3) {
			case 0:
				s.call("stop victim", func(ctx context.Context) error { return s.c.StopPod(ctx, p.ID, time.Second) })
			case 1:
				s.call("kill victim", func(ctx context.Context) error { return s.c.KillPod(ctx, p.ID, "KILL") })
			case 2:
				s.call("rm -f victim (observer)", func(ctx context.Context) error { return s.c.RemovePod(ctx, p.ID, true) })
			}
		}
		s.call("info", func(ctx context.Context) error { _, err := s.c.Info(ctx); return err })
		time.Sleep(time.Duration(100+rng.IntN(200)) * time.Millisecond)
	}
}

// watcher follows events, reads the stats and processes of and updates
// the limits of pods other workers drive, and pauses and unpauses
// victims.
func (s *stress) watcher(rng *rand.Rand) {
	var events atomic.Int64
	evCtx, stopEvents := context.WithCancel(context.Background())
	evDone := make(chan struct{})
	go func() { // one long stream, as `hyperctl events` keeps open
		defer close(evDone)
		r := s.begin("events stream", false)
		err := s.c.Events(evCtx, client.EventOptions{}, func(types.Event) error { events.Add(1); return nil })
		if evCtx.Err() != nil {
			err = nil
		}
		s.end(r, err)
	}()
	for s.running() {
		var pods []types.Pod
		s.call("ps (watcher)", func(ctx context.Context) error {
			var err error
			pods, err = s.c.ListPods(ctx, false)
			return err
		})
		if len(pods) > 0 {
			p := pods[rng.IntN(len(pods))]
			id := p.ID
			s.call("stats", func(ctx context.Context) error { _, err := s.c.Stats(ctx, id); return err })
			s.call("top", func(ctx context.Context) error { _, err := s.c.Top(ctx, id, ""); return err })
			s.call("update", func(ctx context.Context) error {
				return s.c.UpdatePod(ctx, id, types.UpdateRequest{PidsLimit: new(int64(100 + rng.IntN(100)))})
			})
			// Only victims, which no exec runs in (an exec started on a
			// pod paused after its create fails in its stream, with no
			// kind), and which the observer stops, kills and removes.
			if p.Spec.Labels[victimLabel] != "" && s.call("pause", func(ctx context.Context) error { return s.c.PausePod(ctx, id) }) == nil {
				time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
				s.call("unpause", func(ctx context.Context) error { return s.c.UnpausePod(ctx, id) })
			}
		}
		time.Sleep(time.Duration(100+rng.IntN(200)) * time.Millisecond)
	}
	stopEvents()
	<-evDone
	s.expect(events.Load() > 0, "the events stream saw no event")
}

// report logs each request's count, expected errors and longest time.
func (s *stress) report() {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.stats))
	total := 0
	for n, st := range s.stats {
		names = append(names, n)
		total += st.n
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests (rmi and prune: %v):\n", total, s.rmi)
	for _, n := range names {
		st := s.stats[n]
		fmt.Fprintf(&b, "  %-24s %5d  conflict %4d  not found %4d  longest %v\n", n, st.n, st.conflict, st.notFound, st.max.Round(time.Millisecond))
	}
	s.t.Log(b.String())
}

// stopWithStreamsOpen sends hyperd SIGTERM while a pod runs with an
// attach, a wait, a logs -f and an exec in flight: hyperd must exit within
// stopLimit, and the next hyperd finds the pod running.
func (s *stress) stopWithStreamsOpen() {
	t, ctx := s.t, s.h.ctx()
	cr, err := s.c.CreatePod(ctx, types.PodSpec{Name: "stays",
		Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"sh", "-c", "while true; do echo tick; sleep 0.5; done"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.c.StartPod(ctx, cr.ID); err != nil {
		t.Fatal(err)
	}
	var ended sync.WaitGroup
	inFlight := func(fn func()) {
		ended.Add(1)
		go func() { defer ended.Done(); fn() }()
	}
	att, err := s.c.Attach(ctx, cr.ID, client.AttachOptions{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	inFlight(func() { att.Copy(nil, nil); att.Close() })
	ex, err := s.c.CreateExec(ctx, cr.ID, types.ExecSpec{Cmd: []string{"sleep", "600"}})
	if err != nil {
		t.Fatal(err)
	}
	exs, err := s.c.StartExec(ctx, ex.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	inFlight(func() { exs.Copy(nil, nil); exs.Close() })
	waiting, following := make(chan struct{}), make(chan struct{})
	inFlight(func() { s.c.Wait(ctx, cr.ID, func() { close(waiting) }) })
	var once sync.Once
	inFlight(func() {
		s.c.Logs(ctx, cr.ID, types.LogOptions{Follow: true}, func(types.LogEntry) error {
			once.Do(func() { close(following) })
			return nil
		})
	})
	for what, ch := range map[string]chan struct{}{"the wait": waiting, "the logs -f": following} {
		select {
		case <-ch:
		case <-time.After(requestLimit):
			t.Fatalf("%s did not begin", what)
		}
	}

	logged := len(s.h.log.String())
	took, err := s.h.terminate()
	t.Logf("hyperd exited %v after SIGTERM with an attach, an exec, a wait and a logs -f in flight (%v), logging:\n%s",
		took, err, s.h.log.String()[logged:])
	if err != nil {
		t.Errorf("hyperd exited with %v after SIGTERM", err)
	}
	streamsDone := make(chan struct{})
	go func() { ended.Wait(); close(streamsDone) }()
	select {
	case <-streamsDone:
	case <-time.After(5 * time.Second):
		t.Error("the clients' streams did not end with hyperd")
	}
	s.checkRaces()
	if len(podQemusUnder(s.h.dir)) == 0 {
		t.Fatal("the pod's QEMU did not outlive hyperd")
	}
	s.h.start()
	p, err := s.c.GetPod(s.h.ctx(), "stays")
	if err != nil || p.State != types.StateRunning {
		t.Errorf("after a restart, pod stays is %s (%v), want it running", p.State, err)
	}
}

// checkRaces fails the test on data races hyperd reported since the last
// check, quoting the first.
func (s *stress) checkRaces() {
	if s.h == nil {
		return
	}
	log := s.h.log.String()
	const marker = "WARNING: DATA RACE"
	n := strings.Count(log, marker)
	s.mu.Lock()
	seen := s.races
	s.races = n
	s.mu.Unlock()
	if n <= seen {
		return
	}
	i := strings.Index(log, marker)
	first := log[i:]
	if j := strings.Index(first, "=================="); j > 0 {
		first = first[:j]
	}
	s.t.Errorf("hyperd reported %d data races; the first:\n%s", n, first)
}
