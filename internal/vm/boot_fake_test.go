package vm_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/template"
	"github.com/hyperhq/hyper/internal/vm"
)

func fakeConfig(t *testing.T, d *fakeDriver) vm.Config {
	return vm.Config{Driver: d, RunDir: t.TempDir(), Kernel: hypervisor.Kernel{Path: "/fake/vmlinux"},
		Log: slog.New(slog.DiscardHandler)}
}

func fakeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBootFake: Boot runs its steps against a driver (spec, start,
// channel, hello, Resume) and Shutdown powers the VM off through the
// guest and removes its state.
func TestBootFake(t *testing.T) {
	d := &fakeDriver{}
	cfg, ctx := fakeConfig(t, d), fakeCtx(t)
	v, err := vm.Boot(ctx, cfg, vm.Spec{ID: "fake1"})
	if err != nil {
		t.Fatal(err)
	}
	hv := d.created()[0]
	if s := hv.spec; s.ID != "fake1" || s.StateDir != v.Dir || s.VCPUs != 1 || s.MemoryMB != 256 ||
		s.Kernel.Path != "/fake/vmlinux" || len(s.Channels) != 1 || s.Channels[0].Name != protocol.PortName {
		t.Errorf("the driver got %+v", s)
	}
	if _, err := os.Stat(v.Dir); err != nil {
		t.Errorf("state dir: %v", err)
	}
	if err := v.Guest.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v.Pid() != fakePid || v.Template != "" {
		t.Errorf("pid %d, template %q", v.Pid(), v.Template)
	}
	if _, err := vm.Boot(ctx, cfg, vm.Spec{ID: "fake1"}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second boot of one ID: %v, want conflict", err)
	}
	if err := v.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(v.Dir); !os.IsNotExist(err) {
		t.Error("state dir left after shutdown")
	}
	hv.mu.Lock()
	calls, reason := hv.calls, hv.reason
	hv.mu.Unlock()
	if !slices.Equal(calls, []string{protocol.MethodResume, protocol.MethodPing, protocol.MethodShutdown}) || hv.wasKilled() {
		t.Errorf("guest calls %v, killed %v (%s)", calls, hv.wasKilled(), reason)
	}
	if !strings.Contains(v.ExitReason(), "powered off") {
		t.Errorf("exit reason %q", v.ExitReason())
	}
}

// TestBootFakeUndo: a boot that fails at any step undoes the ones before
// it: the VM is killed and waited for, the state dir removed.
func TestBootFakeUndo(t *testing.T) {
	for _, c := range []struct {
		name, step string
		d          *fakeDriver
		timeout    time.Duration
		kind       error
	}{
		{"start fails", "start vm", &fakeDriver{startErr: errors.New("no hypervisor")}, 0, nil},
		{"exits before the channel", "connect guest channel", &fakeDriver{exitAtStart: true}, 0, errdefs.ErrUnavailable},
		{"no hello", "wait for guest ready", &fakeDriver{guest: silentGuest}, 300 * time.Millisecond, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := fakeConfig(t, c.d)
			start := time.Now()
			_, err := vm.Boot(fakeCtx(t), cfg, vm.Spec{ID: "undo", BootTimeout: c.timeout})
			if err == nil || !strings.Contains(err.Error(), c.step) || c.kind != nil && !errors.Is(err, c.kind) {
				t.Fatalf("boot: %v, want a failure at %q (%v)", err, c.step, c.kind)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("failing took %v", time.Since(start))
			}
			if _, err := os.Stat(cfg.RunDir + "/undo"); !os.IsNotExist(err) {
				t.Error("state dir left behind")
			}
			hv := c.d.created()[0]
			if hv.Pid() != 0 && (!hv.wasKilled() || !hv.exited()) {
				t.Error("a started VM was not killed")
			}
		})
	}
}

// TestRecordedFake: a VM is found again by its pid and killed through the
// driver; another pid, or a VM gone, is not its.
func TestRecordedFake(t *testing.T) {
	d := &fakeDriver{}
	cfg, ctx := fakeConfig(t, d), fakeCtx(t)
	v, err := vm.Boot(ctx, cfg, vm.Spec{ID: "rec"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy()
	if !vm.Owns(cfg, "rec", v.Pid()) || vm.Owns(cfg, "rec", 1) || vm.Owns(cfg, "other", v.Pid()) {
		t.Error("Owns recognises the wrong processes")
	}
	if err := vm.KillRecorded(ctx, cfg, "other", v.Pid()); err != nil || d.created()[0].wasKilled() {
		t.Fatalf("killing another VM's pid: %v", err)
	}
	if err := vm.KillRecorded(ctx, cfg, "rec", v.Pid()); err != nil || !d.created()[0].wasKilled() {
		t.Fatalf("KillRecorded: %v", err)
	}
	select {
	case <-v.Done():
	case <-ctx.Done():
		t.Fatal("the VM did not end")
	}
	if vm.Owns(cfg, "rec", v.Pid()) {
		t.Error("a VM gone is still owned")
	}
}

// TestRestoreFake: with templates the VM is restored with the template's
// shape (no hot-plug disks, the template's MACs), then gets its hot-plug
// disks and its MACs through Resume; a restore that fails discards the
// template and boots.
func TestRestoreFake(t *testing.T) {
	const podMAC, tmplMAC = "02:aa:bb:cc:dd:ee", "02:00:00:00:7e:00"
	spec := vm.Spec{ID: "restored",
		Disks: []hypervisor.Disk{{Path: "/img", Serial: "img0", ReadOnly: true, Hotplug: true}, {Path: "/scratch", Serial: "scratch"}},
		NICs:  []hypervisor.NIC{{ID: "eth0", MAC: podMAC}}}
	d := &fakeDriver{}
	tmpl := &fakeTemplates{t: template.Template{Dir: "/templates/k", MACs: []string{tmplMAC}}}
	cfg, ctx := fakeConfig(t, d), fakeCtx(t)
	cfg.Templates = tmpl
	v, err := vm.Boot(ctx, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy()
	hv := d.created()[0]
	if v.Template != "/templates/k" || hv.template != "/templates/k" {
		t.Fatalf("not restored: %q", v.Template)
	}
	if s := tmpl.shapes[0]; len(s.Disks) != 1 || s.Disks[0].Hotplug || len(hv.spec.Disks) != 1 || hv.spec.NICs[0].MAC != tmplMAC {
		t.Errorf("shape %+v, restored spec %+v", s, hv.spec)
	}
	var resume protocol.ResumeRequest
	hv.mu.Lock()
	json.Unmarshal(hv.resume, &resume)
	disks := hv.disks
	hv.mu.Unlock()
	if len(disks) != 1 || disks[0].Serial != "img0" {
		t.Errorf("hot-added %+v", disks)
	}
	if len(resume.MACs) != 1 || resume.MACs[0] != (protocol.MACChange{From: tmplMAC, To: podMAC}) {
		t.Errorf("resume MACs %+v", resume.MACs)
	}

	d.restoreErr = errors.New("bad template")
	spec.ID = "cold"
	v2, err := vm.Boot(ctx, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Destroy()
	vms := d.created()
	if v2.Template != "" || len(vms) != 3 || vms[2].template != "" || len(vms[2].spec.Disks) != 2 || len(tmpl.discarded) != 1 {
		t.Errorf("a failed restore did not fall back to a boot: %d VMs, discarded %v", len(vms), tmpl.discarded)
	}
}
