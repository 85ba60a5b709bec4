// Package template keeps VM templates: one booted and saved guest per VM
// shape, which pod VMs resume instead of booting (see
// docs/adr/0009-vm-templates.md). A template is built on first use, kept
// under a directory of hyperd's state, and replaced when anything that
// shapes it changes: its key covers the kernel and initramfs files, vCPUs,
// memory, acceleration and the boot-time devices. A template is written
// once and never modified: VMs map its memory file copy-on-write, and a
// private mapping still sees later writes to the file.
package template

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/hypervisor"
)

// format versions the key: bump it when what a template holds changes.
const format = 1

// retryAfter is how long a shape whose template failed to build boots
// cold before the next attempt.
const retryAfter = 5 * time.Minute

// ErrUnsupported marks a VM shape that cannot have a template: such VMs
// boot cold.
var ErrUnsupported = hypervisor.ErrNoTemplate

// Template is a saved VM ready to be restored.
type Template struct {
	Dir  string   // holds the driver's files
	MACs []string // the MAC address of each NIC, in order
}

// Cache builds and finds templates under one directory.
type Cache struct {
	dir string
	drv hypervisor.Templater
	log *slog.Logger

	mu       sync.Mutex
	building map[string]chan struct{} // key -> closed when built or failed
	failed   map[string]failure
}

type failure struct {
	at  time.Time
	err error
}

// New returns a cache of templates in dir, built with drv.
func New(dir string, drv hypervisor.Templater, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.Default()
	}
	return &Cache{dir: dir, drv: drv, log: log.With("component", "template"),
		building: map[string]chan struct{}{}, failed: map[string]failure{}}
}

// Get returns the template for VMs shaped like spec, building it first if
// there is none. Only spec's shape matters: its ID, state dir, paths and
// port forwards are the pod VM's and are not used.
func (c *Cache) Get(ctx context.Context, spec hypervisor.Spec) (Template, error) {
	key, err := Key(spec)
	if err != nil {
		return Template{}, err
	}
	t := Template{Dir: filepath.Join(c.dir, key), MACs: macs(len(spec.NICs))}
	for {
		if _, err := os.Stat(filepath.Join(t.Dir, doneFile)); err == nil {
			return t, nil
		}
		c.mu.Lock()
		if f, ok := c.failed[key]; ok && time.Since(f.at) < retryAfter {
			c.mu.Unlock()
			return Template{}, fmt.Errorf("template %s: building failed %s ago: %w", key, time.Since(f.at).Round(time.Second), f.err)
		}
		wait, busy := c.building[key]
		if !busy {
			wait = make(chan struct{})
			c.building[key] = wait
		}
		c.mu.Unlock()
		if busy {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return Template{}, fmt.Errorf("waiting for template %s: %w", key, ctx.Err())
			}
		}
		err := c.build(ctx, key, spec)
		c.mu.Lock()
		delete(c.building, key)
		if err != nil && ctx.Err() == nil {
			c.failed[key] = failure{time.Now(), err}
		}
		c.mu.Unlock()
		close(wait)
		if err != nil {
			return Template{}, err
		}
	}
}

// Discard removes a template that failed to restore, so that the next Get
// builds it again. VMs already restored from it keep their mappings.
func (c *Cache) Discard(t Template, why error) {
	if filepath.Dir(t.Dir) != filepath.Clean(c.dir) {
		return
	}
	c.log.Warn("discarding template", "dir", t.Dir, "reason", why)
	// Renamed first: a concurrent Get never sees half a directory.
	trash := t.Dir + ".discarded-" + fmt.Sprint(time.Now().UnixNano())
	if err := os.Rename(t.Dir, trash); err == nil {
		os.RemoveAll(trash)
	}
}

// Files of a template directory besides the driver's.
const (
	doneFile  = "template.json" // written last: the template is complete
	buildVMID = "template"
)

// build boots the template VM in a scratch directory and publishes it by
// renaming the directory to its key.
func (c *Cache) build(ctx context.Context, key string, spec hypervisor.Spec) error {
	start := time.Now()
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("template %s: %w", key, err)
	}
	tmp, err := os.MkdirTemp(c.dir, ".build-"+key+"-")
	if err != nil {
		return fmt.Errorf("template %s: %w", key, err)
	}
	defer os.RemoveAll(tmp)
	vmDir := filepath.Join(tmp, "vm") // sockets and logs of the template VM
	if err := os.Mkdir(vmDir, 0o700); err != nil {
		return err
	}
	shape, err := buildSpec(spec, vmDir)
	if err != nil {
		return fmt.Errorf("template %s: %w", key, err)
	}
	if err := c.drv.SaveTemplate(ctx, shape, tmp); err != nil {
		return fmt.Errorf("template %s: %w", key, err)
	}
	if err := os.RemoveAll(vmDir); err != nil {
		return err
	}
	meta, _ := json.MarshalIndent(describe(spec), "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, doneFile), meta, 0o600); err != nil {
		return err
	}
	final := filepath.Join(c.dir, key)
	os.RemoveAll(final) // an incomplete one (no doneFile)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("template %s: publishing: %w", key, err)
	}
	c.log.Info("template built", "key", key, "took", time.Since(start).Round(time.Millisecond))
	c.prune()
	return nil
}

// prune removes what can never be used again: templates of kernel or
// initramfs files that have changed or gone, and builds abandoned by a
// crashed daemon.
func (c *Cache) prune() {
	ents, _ := os.ReadDir(c.dir)
	for _, e := range ents {
		p := filepath.Join(c.dir, e.Name())
		if strings.HasPrefix(e.Name(), ".build-") {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(p)
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(p, doneFile))
		if err != nil {
			continue
		}
		var meta struct{ Shape shape }
		if json.Unmarshal(b, &meta) != nil || stale(meta.Shape.Kernel) {
			c.log.Info("removing a stale template", "dir", p)
			os.RemoveAll(p)
		}
	}
}

// stale reports whether any of the files has changed since it was
// recorded.
func stale(files []fileID) bool {
	for _, f := range files {
		if f.Path == "" {
			continue
		}
		st, err := os.Stat(f.Path)
		if err != nil || st.Size() != f.Size || !st.ModTime().Equal(f.MTime) {
			return true
		}
	}
	return false
}

// buildSpec is the template VM's spec: spec's shape with its own paths,
// placeholder disks of the same sizes, empty shared directories and the
// template's MACs.
func buildSpec(spec hypervisor.Spec, dir string) (hypervisor.Spec, error) {
	s := spec
	s.ID, s.StateDir, s.ConsoleLog = buildVMID, dir, filepath.Join(dir, "console.log")
	s.Channels = nil
	for i, ch := range spec.Channels {
		s.Channels = append(s.Channels, hypervisor.Channel{Name: ch.Name, SocketPath: filepath.Join(dir, fmt.Sprintf("ch%d.sock", i))})
	}
	s.Disks = nil
	for i, d := range spec.Disks {
		st, err := os.Stat(d.Path)
		if err != nil {
			return s, err
		}
		p := filepath.Join(dir, fmt.Sprintf("disk%d", i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			return s, err
		}
		if err := os.Truncate(p, st.Size()); err != nil {
			return s, err
		}
		d.Path = p
		s.Disks = append(s.Disks, d)
	}
	s.Shares = nil
	for i, sh := range spec.Shares {
		p := filepath.Join(dir, fmt.Sprintf("share%d", i))
		if err := os.Mkdir(p, 0o700); err != nil {
			return s, err
		}
		sh.Path = p
		s.Shares = append(s.Shares, sh)
	}
	s.NICs = nil
	for i, m := range macs(len(spec.NICs)) {
		s.NICs = append(s.NICs, hypervisor.NIC{ID: spec.NICs[i].ID, MAC: m})
	}
	return s, nil
}

// macs are the template's NIC addresses: locally administered, and
// changed by every restored guest to its pod's (protocol Resume).
func macs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("02:00:00:00:7e:%02x", i))
	}
	return out
}

// shape is everything of a spec a template depends on.
type shape struct {
	Format   int
	Kernel   []fileID
	Cmdline  string
	VCPUs    int
	MemoryMB int
	Accel    string
	Channels []string
	Disks    []diskShape
	Shares   []shareShape
	NICs     int
}

type fileID struct {
	Path  string
	Size  int64
	MTime time.Time
}

type diskShape struct {
	Size     int64
	ReadOnly bool
	Format   string
}

type shareShape struct {
	Tag      string
	ReadOnly bool
}

// Key names the template of spec's shape. Specs that cannot have one
// (hot-plug disks at boot, tap NICs) are refused: they boot cold.
func Key(spec hypervisor.Spec) (string, error) {
	sh, err := shapeOf(spec)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(sh)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

func shapeOf(spec hypervisor.Spec) (shape, error) {
	s := shape{Format: format, Cmdline: spec.Kernel.Cmdline, VCPUs: spec.VCPUs, MemoryMB: spec.MemoryMB,
		Accel: spec.Accel.Kind, NICs: len(spec.NICs)}
	for _, f := range []string{spec.Kernel.Path, spec.Kernel.Initrd} {
		if f == "" {
			s.Kernel = append(s.Kernel, fileID{})
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return s, fmt.Errorf("template shape: %w", err)
		}
		s.Kernel = append(s.Kernel, fileID{f, st.Size(), st.ModTime()})
	}
	for _, ch := range spec.Channels {
		s.Channels = append(s.Channels, ch.Name)
	}
	for _, d := range spec.Disks {
		if d.Hotplug {
			return s, fmt.Errorf("%w: hot-plug disks at boot (add them after the restore)", ErrUnsupported)
		}
		st, err := os.Stat(d.Path)
		if err != nil {
			return s, fmt.Errorf("template shape: %w", err)
		}
		s.Disks = append(s.Disks, diskShape{st.Size(), d.ReadOnly, d.Format})
	}
	for _, sh := range spec.Shares {
		s.Shares = append(s.Shares, shareShape{sh.Tag, sh.ReadOnly})
	}
	for _, n := range spec.NICs {
		if n.Tap != "" {
			return s, fmt.Errorf("%w: a tap NIC", ErrUnsupported)
		}
	}
	return s, nil
}

// describe is what template.json records, for people.
func describe(spec hypervisor.Spec) any {
	sh, _ := shapeOf(spec)
	return struct {
		Built time.Time
		Shape shape
	}{time.Now().UTC(), sh}
}
