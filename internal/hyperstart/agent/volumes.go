package agent

import (
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/disk"
	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/mount"
	"github.com/hyperhq/hyper/internal/hyperstart/spawn"
	"github.com/hyperhq/hyper/internal/protocol"
)

// MaxMounts bounds the volumes of one container.
const MaxMounts = 64

func (p Paths) volumes() string { return filepath.Join(p.Run, "volumes") }
func (p Paths) share() string   { return filepath.Join(p.Run, "share") }
func (p Paths) tmpfs() string   { return filepath.Join(p.Run, "tmpfs") }

// volumeSet holds the volume sources mounted in hyperstart's namespace,
// each once per VM and bound from there into the containers using it:
// volume disks and the pod's 9p share are ref-counted (unmounted, and so
// synced, when the last container using them is removed); memory
// scratch directories live as long as the pod.
type volumeSet struct {
	mu      sync.Mutex
	mounted map[string]*volumeSource // by key()
}

type volumeSource struct {
	dir  string
	refs int
	keep bool // never unmounted before shutdown
}

// key names the source a mount needs in the volume set.
func key(m protocol.Mount) string {
	if m.Kind == protocol.MountShare {
		return m.Kind
	}
	return m.Kind + "/" + m.FSType + "/" + m.Source
}

// validateMounts checks a container's mounts before anything is done.
func validateMounts(ms []protocol.Mount) error {
	if len(ms) > MaxMounts {
		return errs.Invalid("too many mounts: %d > %d", len(ms), MaxMounts)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if err := ValidateID("mount source", m.Source); err != nil {
			return err
		}
		p := m.Path
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.IndexByte(p, 0) >= 0 {
			return errs.Invalid("mount path %q: want an absolute, clean path other than /", p)
		}
		for _, sys := range []string{"/proc", "/sys", "/dev"} {
			if p == sys || strings.HasPrefix(p, sys+"/") {
				return errs.Invalid("mount path %q: %s belongs to the guest", p, sys)
			}
		}
		if seen[p] {
			return errs.Invalid("mount path %q used twice", p)
		}
		seen[p] = true
		switch {
		case m.Kind == protocol.MountDisk && (m.FSType == "" || m.FSType == "ext4"):
		case m.Kind == protocol.MountShare && m.FSType == "":
		case m.Kind == protocol.MountScratch && (m.FSType == "" || m.FSType == "tmpfs"):
		default:
			return errs.Invalid("mount at %s: unsupported kind %q with filesystem %q", p, m.Kind, m.FSType)
		}
		if m.SizeMB < 0 {
			return errs.Invalid("mount at %s: negative size", p)
		}
	}
	return nil
}

// acquireMounts mounts (or takes another reference on) the sources of a
// container's mounts and returns what its init binds where. On error
// nothing is left acquired.
func (a *Agent) acquireMounts(ms []protocol.Mount) (vols []spawn.Volume, err error) {
	var keys []string
	defer func() {
		if err != nil {
			a.releaseMounts(keys)
		}
	}()
	for _, m := range ms {
		dir, err := a.acquireSource(m)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key(m))
		src := dir
		if m.Kind == protocol.MountShare {
			src = filepath.Join(dir, m.Source)
			if _, err := os.Lstat(src); err != nil {
				return nil, errs.NotFound("mount at %s: share entry %s: %w", m.Path, m.Source, err)
			}
		}
		vols = append(vols, spawn.Volume{Source: src, Target: m.Path, ReadOnly: m.ReadOnly})
	}
	return vols, nil
}

// mountKeys are the volume set keys of a container's mounts.
func mountKeys(ms []protocol.Mount) []string {
	var ks []string
	for _, m := range ms {
		ks = append(ks, key(m))
	}
	return ks
}

func (a *Agent) acquireSource(m protocol.Mount) (string, error) {
	s := &a.vols
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(m)
	if v, ok := s.mounted[k]; ok {
		v.refs++
		return v.dir, nil
	}
	v := &volumeSource{refs: 1}
	var e mount.Entry
	switch {
	case m.Kind == protocol.MountDisk:
		dev, err := disk.FindBySerial(a.cfg.Paths.SysBlock, a.cfg.Paths.Dev, m.Source, DiskTimeout)
		if err != nil {
			return "", err
		}
		e = mount.Entry{Source: dev, Target: filepath.Join(a.cfg.Paths.volumes(), m.Source), FSType: "ext4", Flags: unix.MS_NODEV}
	case m.Kind == protocol.MountShare:
		e = mount.Entry{Source: protocol.PodShareTag, Target: a.cfg.Paths.share(), FSType: "9p",
			Flags: unix.MS_NODEV, Data: "trans=virtio,version=9p2000.L,msize=262144"}
	case m.FSType == "tmpfs":
		data := "mode=1777"
		if m.SizeMB > 0 {
			data += fmt.Sprintf(",size=%dm", m.SizeMB)
		}
		e = mount.Entry{Source: "tmpfs", Target: filepath.Join(a.cfg.Paths.tmpfs(), m.Source), FSType: "tmpfs",
			Flags: unix.MS_NODEV, Data: data}
		v.keep = true
	default: // a directory of the scratch disk, kept with it
		v.dir, v.keep = filepath.Join(a.cfg.Paths.scratch(), "volumes", m.Source), true
		if err := os.MkdirAll(v.dir, 0o777); err != nil {
			return "", errs.Internal("creating scratch volume %s: %w", m.Source, err)
		}
		os.Chmod(v.dir, 0o777) // as Kubernetes' emptyDir: any user may write
	}
	if v.dir == "" {
		if err := e.Mount(); err != nil {
			return "", errs.Internal("volume %s: %w", m.Source, err)
		}
		v.dir = e.Target
	}
	if s.mounted == nil {
		s.mounted = map[string]*volumeSource{}
	}
	s.mounted[k] = v
	return v.dir, nil
}

// releaseMounts drops a reference on each source; the last one unmounts
// a volume disk (its data is then on the disk) or the share.
func (a *Agent) releaseMounts(keys []string) {
	s := &a.vols
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		v, ok := s.mounted[k]
		if !ok {
			continue
		}
		if v.refs--; v.refs > 0 || v.keep {
			continue
		}
		delete(s.mounted, k)
		if err := mount.Unmount(v.dir); err != nil {
			slog.Warn("releasing volume", "dir", v.dir, "err", err)
			continue
		}
		os.Remove(v.dir)
	}
}

// unmountVolumes unmounts every volume source, at shutdown.
func (a *Agent) unmountVolumes() {
	s := &a.vols
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.mounted {
		if strings.HasPrefix(k, protocol.MountScratch+"//") {
			continue // on the scratch disk, unmounted with it
		}
		if err := mount.Unmount(v.dir); err != nil {
			slog.Warn("shutdown", "err", err)
		}
	}
	s.mounted = nil
}
