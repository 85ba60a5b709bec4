package vm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/template"
)

// Templates gives VMs a saved, booted guest to resume instead of booting
// (package template, docs/adr/0009-vm-templates.md).
type Templates interface {
	// Get returns the template for VMs shaped like spec, building it if
	// needed; template.ErrUnsupported if the shape cannot have one.
	Get(ctx context.Context, spec hypervisor.Spec) (template.Template, error)
	// Discard drops a template that failed to restore.
	Discard(t template.Template, why error)
}

// startHypervisor creates and starts the VM: resumed from a template when
// the config has templates and the VM's shape allows, booted otherwise
// (also when the restore fails: the template is discarded and the reason
// logged).
func (v *VM) startHypervisor(ctx context.Context, cfg Config, hs hypervisor.Spec, undo *cleanup.Cleanup) error {
	v.Timings.Start = time.Now()
	if cfg.Templates != nil {
		err := v.restore(ctx, cfg, hs, undo)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if errors.Is(err, template.ErrUnsupported) {
			v.log.Debug("booting: no template", "reason", err)
		} else {
			v.log.Warn("booting: template unavailable", "reason", err)
		}
	}
	hv, err := cfg.Driver.Create(ctx, hs)
	if err != nil {
		return err
	}
	v.hv = hv
	v.Timings.Start = time.Now()
	if err := hv.Start(ctx); err != nil {
		return err
	}
	v.Timings.Launched = time.Now()
	undo.Add(func() { hv.Kill(); hv.Wait(context.Background()) })
	return nil
}

// restore resumes the VM from a template, then adds its hot-plug disks (a
// template has none: they are the pod's images and volumes).
func (v *VM) restore(ctx context.Context, cfg Config, hs hypervisor.Spec, undo *cleanup.Cleanup) error {
	tr, ok := cfg.Driver.(hypervisor.Templater)
	if !ok {
		return fmt.Errorf("%w: driver %s has no templates", template.ErrUnsupported, cfg.Driver.Name())
	}
	shape := hs
	shape.Disks = nil
	var hot []hypervisor.Disk
	for _, d := range hs.Disks {
		if d.Hotplug {
			hot = append(hot, d)
		} else {
			shape.Disks = append(shape.Disks, d)
		}
	}
	t, err := cfg.Templates.Get(ctx, shape)
	if err != nil {
		return err
	}
	shape.NICs = append([]hypervisor.NIC(nil), hs.NICs...)
	var macs []protocol.MACChange
	for i := range shape.NICs {
		if shape.NICs[i].MAC != "" && shape.NICs[i].MAC != t.MACs[i] {
			macs = append(macs, protocol.MACChange{From: t.MACs[i], To: shape.NICs[i].MAC})
		}
		shape.NICs[i].MAC = t.MACs[i]
	}
	hv, err := tr.Restore(ctx, shape, t.Dir)
	if err != nil {
		return err
	}
	v.Timings.Start = time.Now()
	if err := hv.Start(ctx); err != nil {
		if ctx.Err() == nil {
			cfg.Templates.Discard(t, err)
		}
		return err
	}
	v.Timings.Launched = time.Now()
	undo.Add(func() { hv.Kill(); hv.Wait(context.Background()) })
	v.hv, v.Template, v.macs = hv, t.Dir, macs
	for _, d := range hot {
		if err := v.AddDisk(ctx, d); err != nil {
			return fmt.Errorf("vm restored, but: %w", err)
		}
	}
	return nil
}

// resumeGuest sends the guest the host's clock and fresh entropy, and the
// MAC addresses its NICs must have. A guest restored from a template
// needs all three; a booted one gets a clock more precise than its RTC.
func (v *VM) resumeGuest(ctx context.Context) error {
	seed := make([]byte, 64)
	rand.Read(seed)
	return v.Guest.Resume(ctx, protocol.ResumeRequest{WallNanos: time.Now().UnixNano(), Entropy: seed, MACs: v.macs})
}

// Prewarm builds the template for VMs like spec, if the config has
// templates and the shape allows one, so that the first such VM does not
// wait for it. spec's disks must exist (their sizes shape the template).
func Prewarm(ctx context.Context, cfg Config, spec Spec) error {
	if cfg.Templates == nil {
		return nil
	}
	hs := hvSpec(cfg, spec.withDefaults(), filepath.Join(cfg.RunDir, "prewarm"))
	var boot []hypervisor.Disk
	for _, d := range hs.Disks {
		if !d.Hotplug {
			boot = append(boot, d)
		}
	}
	hs.Disks = boot
	_, err := cfg.Templates.Get(ctx, hs)
	if errors.Is(err, template.ErrUnsupported) {
		return nil
	}
	return err
}
