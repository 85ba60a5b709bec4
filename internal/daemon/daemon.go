// Package daemon is hyperd's service: it owns pods (one VM each), their
// containers' I/O and logs, execs, and the image store, and keeps state in
// the store so that a restarted daemon finds its pods again. The REST layer
// (package api) reaches it only through api's small interfaces.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/events"
	"github.com/hyperhq/hyper/internal/image"
	"github.com/hyperhq/hyper/internal/metrics"
	"github.com/hyperhq/hyper/internal/network"
	"github.com/hyperhq/hyper/internal/sandbox"
	"github.com/hyperhq/hyper/internal/secpolicy"
	"github.com/hyperhq/hyper/internal/store"
	"github.com/hyperhq/hyper/internal/vm"
	"github.com/hyperhq/hyper/internal/volume"
)

// Config configures the daemon.
type Config struct {
	Root     string    // state: database, images, pods (default /var/lib/hyper)
	VM       vm.Config // driver, kernel, acceleration, run dir
	Version  string
	MemoryMB int // default per pod
	VCPUs    int
	// ScratchMB is the size of each pod's sparse scratch disk.
	ScratchMB int
	// LogMaxSize and LogMaxFiles rotate container logs.
	LogMaxSize  int64
	LogMaxFiles int
	// Registry configures image pulls (insecure registries, mirrors).
	Registry image.Registry
	// Network is the default network mode of pods ("user" when empty).
	Network string
	// Bridge configures the bridge network mode (defaults: hyper0,
	// 10.88.0.0/16).
	Bridge network.Config
	// API lists hyperd's listeners, for info.
	API []types.APIListener
	// SeccompProfileDir holds the seccomp profiles that containers may
	// name ("seccomp=localhost/<name>", a pod file's Localhost
	// seccompProfile); "": /etc/hyper/seccomp.
	SeccompProfileDir string
}

// Daemon is hyperd's core: the pods, their runs (run.go, restart.go,
// containers.go) and the stores. The API reaches it through adapters, one
// per api interface (Pods, Containers, Streams, Execs, Images, Volumes,
// System): see Backend.
type Daemon struct {
	cfg    Config
	db     *store.DB
	images imageResolver // the image store as the pods need it (images.go)
	// imageStore is all of the image store, for the Images adapter.
	imageStore *image.Store
	log        *slog.Logger
	sec        secpolicy.Policy // what confines the containers
	vols       *volumes
	net        *network.Bridge // bridge mode's host side
	// sbCfg is what every pod's sandbox shares.
	sbCfg sandbox.Config

	// mu guards the registry: pods, names being reserved, execs. Lock
	// order: mu → pod.mu → the sandboxes' locks; mu is never held across
	// database or disk I/O, VM or guest calls.
	mu       sync.Mutex
	pods     map[string]*pod // by full ID
	reserved map[string]bool // names of pods being created
	leaving  map[string]*pod // auto-removed pods whose VM is powering off
	execs    map[string]*execution

	prewarmed chan struct{} // closed when the template prewarm is done
	events    *events.Bus   // the event log (events.go)
	metrics   *metrics.Metrics
	// bootStarts are the starts of pods under their restart policy at
	// hyperd's start (restartpolicy.go).
	bootStarts sync.WaitGroup
	// health holds the containers' health checks' results (health.go).
	health healthBoard
}

const podsBucket = "pods"

// New opens the state under cfg.Root and recovers the pods found there.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Daemon, error) {
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 256
	}
	if cfg.VCPUs == 0 {
		cfg.VCPUs = 1
	}
	if cfg.ScratchMB == 0 {
		cfg.ScratchMB = 10 << 10
	}
	if cfg.LogMaxSize == 0 {
		cfg.LogMaxSize = 10 << 20
	}
	if cfg.LogMaxFiles == 0 {
		cfg.LogMaxFiles = 3
	}
	cfg.VM.Log = log
	for _, dir := range []string{cfg.Root, filepath.Join(cfg.Root, "pods"), cfg.VM.RunDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	db, err := store.Open(filepath.Join(cfg.Root, "hyperd.db"))
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, db: db, log: log, sec: secpolicy.Policy{ProfileDir: cfg.SeccompProfileDir, Log: log}, pods: map[string]*pod{}, reserved: map[string]bool{}, leaving: map[string]*pod{}, execs: map[string]*execution{},
		sbCfg: sandbox.Config{VM: cfg.VM, Log: log, LogMaxSize: cfg.LogMaxSize, LogMaxFiles: cfg.LogMaxFiles}}
	d.events = events.New(events.DefaultSize)
	d.metrics = metrics.New(metricsSource{d})
	d.sbCfg.VM.GuestRPCs = d.metrics.GuestRPC
	context.AfterFunc(ctx, d.events.Close) // hyperd's stop ends the event streams cleanly, first
	if d.net, err = network.New(cfg.Bridge, db, log); err != nil {
		db.Close()
		return nil, err
	}
	if err := d.openImages(); err != nil {
		db.Close()
		return nil, err
	}
	d.vols = &volumes{root: cfg.Root, runDir: cfg.VM.RunDir, log: log}
	if d.vols.store, err = volume.Open(filepath.Join(cfg.Root, "volumes"), db); err != nil {
		db.Close()
		return nil, err
	}
	if err := d.recover(ctx); err != nil {
		db.Close()
		return nil, err
	}
	running := map[string]bool{} // pods whose VM was re-attached
	for _, p := range d.all() {
		running[p.rec.ID] = p.sb.Running()
	}
	d.vols.reconcileShares(running)
	d.prewarmed = make(chan struct{})
	go d.prewarm(ctx)
	d.startRestartable()
	return d, nil
}

// Close lets VMs of exited pods finish powering off and the template
// prewarm end, then releases the state database (bbolt waits for the
// transactions still open), all within ctx. Running pods keep running:
// their VMs do not depend on the daemon's process. If ctx ends first, Close
// returns an error naming what it was still waiting for and leaves the
// database open, since what it waited for may still write to it (the
// process is about to exit, and bbolt is crash-safe).
func (d *Daemon) Close(ctx context.Context) error {
	var dbErr error
	var pods []*pod
	for _, step := range []struct {
		what string
		do   func()
	}{
		{"the daemon's lock", func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, p := range d.pods {
				pods = append(pods, p)
			}
			for _, p := range d.leaving { // auto-removed, powering off
				pods = append(pods, p)
			}
		}},
		{"VMs of exited pods powering off", func() {
			for _, p := range pods {
				<-p.sb.VMGone()
			}
		}},
		{"pods starting under their restart policy", d.bootStarts.Wait},
		{"the template prewarm", func() {
			if d.prewarmed != nil {
				<-d.prewarmed
			}
		}},
		{"transactions open on the state database", func() { dbErr = d.db.Close() }},
	} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			step.do()
		}()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("closing the daemon: still waiting for %s: %w", step.what, context.Cause(ctx))
		}
	}
	return dbErr
}

// recover loads every pod, upgrading older records first (loadPods). A
// pod recorded as running whose VM is gone is marked exited with the
// reason.
func (d *Daemon) recover(ctx context.Context) error {
	recs, err := d.loadPods(ctx)
	if err != nil {
		return fmt.Errorf("loading pods: %w", err)
	}
	for _, rec := range recs {
		p := d.newPod(rec)
		d.pods[rec.ID] = p
		if rec.State == stateRunning {
			d.recoverRunning(ctx, p)
		} else if err := vm.RemoveStale(ctx, d.cfg.VM, rec.VMID, rec.VM.Pid); err != nil {
			// hyperd died between a VM's end and its cleanup
			d.log.Warn("removing the state of a stopped pod's VM", "pod", rec.ID[:12], "err", err)
		}
	}
	d.syncImageHolds("")
	// The network of every pod that no longer runs is released (its VM
	// died with or while hyperd was down).
	live := map[string][]network.Port{}
	for id, p := range d.pods {
		if s := p.snapshot(); s.State == stateRunning && s.Network == types.NetworkBridge {
			live[id] = netPorts(s.Ports)
		}
	}
	if err := d.net.Reconcile(live); err != nil {
		d.log.Warn("reconciling the bridge network", "err", err)
	}
	return nil
}

// lookup finds a pod by full ID, name, or unique ID prefix.
func (d *Daemon) lookup(ref string) (*pod, error) {
	if ref == "" {
		return nil, errdefs.InvalidArgument("empty pod name or ID")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.pods[ref]; ok {
		return p, nil
	}
	var found *pod
	for id, p := range d.pods {
		if p.name() == ref {
			return p, nil
		}
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.Conflict("pod ID prefix %q is ambiguous", ref)
			}
			found = p
		}
	}
	if found == nil {
		return nil, errdefs.NotFound("no such pod: %s", ref)
	}
	return found, nil
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
