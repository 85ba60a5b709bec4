package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/volume"
)

// volumes are the pods' volumes on the host: the store of named volumes,
// which running pod holds each of them, and the pods' 9p shares of host
// paths. Pods call in with their ID and record; it knows nothing else of
// them (the API's Volumes adapter tells it which pods use a volume).
type volumes struct {
	store *volume.Store
	holds volumeHolds
	// root is hyperd's state directory (the shares are under it) and
	// runDir the VMs': no host path volume may reach into either.
	root, runDir string
	log          *slog.Logger
}

// maxVolumesPerPod bounds a pod's volumes (named ones are hot-plug disks
// next to the image disks).
const maxVolumesPerPod = 64

// podVolume is how one of a pod's volumes reaches its VM, decided when
// the pod is created (docs/adr/0007-vm-devices.md).
type podVolume struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // protocol.Mount*
	// HostPath is a share entry's resolved real path; Create it (a
	// directory, or a file with File) at start if it is missing.
	HostPath string `json:"hostPath,omitempty"`
	Create   bool   `json:"create,omitempty"`
	File     bool   `json:"file,omitempty"`
	// Volume is a named volume, Serial its disk's.
	Volume   string `json:"volume,omitempty"`
	Serial   string `json:"serial,omitempty"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	FSType   string `json:"fsType,omitempty"`
	SizeMB   int    `json:"sizeMB,omitempty"`
}

// plan checks a pod's volumes and its containers' mounts and
// decides how each volume reaches the VM. Nothing is created: host paths
// to create and named volumes are only noted.
func (vs *volumes) plan(spec types.PodSpec) ([]podVolume, []string, error) {
	var plan []podVolume
	var warnings []string
	if len(spec.Volumes) > maxVolumesPerPod {
		return nil, nil, errdefs.InvalidArgument("%d volumes: at most %d per pod", len(spec.Volumes), maxVolumesPerPod)
	}
	declared := map[string]bool{}
	for i, v := range spec.Volumes {
		where := fmt.Sprintf("volumes[%d]", i)
		if !validName.MatchString(v.Name) || declared[v.Name] {
			return nil, nil, errdefs.InvalidArgument("%s: invalid or duplicate volume name %q: use letters, digits, '_', '.', '-'", where, v.Name)
		}
		declared[v.Name] = true
		pv := podVolume{Name: v.Name}
		n := 0
		if h := v.HostPath; h != nil {
			n++
			if err := vs.planHostPath(&pv, h); err != nil {
				return nil, nil, fmt.Errorf("%s (%s): %w", where, v.Name, err)
			}
		}
		if e := v.EmptyDir; e != nil {
			n++
			pv.Kind = protocol.MountScratch
			switch e.Medium {
			case "":
				if e.SizeLimitMB > 0 {
					warnings = append(warnings, fmt.Sprintf("%s: emptyDir sizeLimit is not enforced on the pod's disk", where))
				}
			case "Memory":
				pv.FSType, pv.SizeMB = "tmpfs", e.SizeLimitMB
			default:
				return nil, nil, errdefs.InvalidArgument("%s: emptyDir medium %q: want \"\" or Memory", where, e.Medium)
			}
			if e.SizeLimitMB < 0 {
				return nil, nil, errdefs.InvalidArgument("%s: negative emptyDir sizeLimit", where)
			}
		}
		if nv := v.Named; nv != nil {
			n++
			if err := volume.CheckName(nv.Name); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			pv.Kind, pv.Volume, pv.ReadOnly = protocol.MountDisk, nv.Name, nv.ReadOnly
		}
		if n != 1 {
			return nil, nil, errdefs.InvalidArgument("%s (%s): want exactly one of hostPath, emptyDir, named", where, v.Name)
		}
		plan = append(plan, pv)
	}
	used, writable := map[string]bool{}, map[string]bool{}
	check := func(where string, c types.ContainerSpec) error {
		paths := map[string]bool{}
		for j, m := range c.VolumeMounts {
			w := fmt.Sprintf("%s.volumeMounts[%d]", where, j)
			if !declared[m.Name] {
				return errdefs.InvalidArgument("%s: volume %q is not declared", w, m.Name)
			}
			p, err := mountPath(m.MountPath)
			if err != nil {
				return errdefs.InvalidArgument("%s: %w", w, err)
			}
			if paths[p] {
				return errdefs.InvalidArgument("%s: %s is mounted twice", w, p)
			}
			paths[p], used[m.Name] = true, true
			writable[m.Name] = writable[m.Name] || !m.ReadOnly
		}
		return nil
	}
	for i, c := range spec.InitContainers {
		if err := check(fmt.Sprintf("initContainers[%d]", i), c); err != nil {
			return nil, nil, err
		}
	}
	for i, c := range spec.Containers {
		if err := check(fmt.Sprintf("containers[%d]", i), c); err != nil {
			return nil, nil, err
		}
	}
	for i, pv := range plan {
		if !used[pv.Name] {
			warnings = append(warnings, fmt.Sprintf("volume %s is mounted by no container", pv.Name))
		}
		// Mounted read-only everywhere: read-only for the VM too (a
		// read-only bind on the host).
		plan[i].ReadOnly = pv.ReadOnly || !writable[pv.Name]
	}
	return plan, warnings, nil
}

// checkAddedMounts checks the mounts of a container added to a pod whose
// volumes are planned (vols): it may mount only those, and not write one
// the pod's VM has read-only.
func checkAddedMounts(vols []podVolume, cs types.ContainerSpec) error {
	paths := map[string]bool{}
	for j, m := range cs.VolumeMounts {
		w := fmt.Sprintf("volumeMounts[%d]", j)
		i := slices.IndexFunc(vols, func(pv podVolume) bool { return pv.Name == m.Name })
		if i < 0 {
			return errdefs.InvalidArgument("%s: %q is not a volume of the pod (an added container mounts the pod's volumes)", w, m.Name)
		}
		p, err := mountPath(m.MountPath)
		if err != nil {
			return errdefs.InvalidArgument("%s: %w", w, err)
		}
		if paths[p] {
			return errdefs.InvalidArgument("%s: %s is mounted twice", w, p)
		}
		paths[p] = true
		if vols[i].ReadOnly && !m.ReadOnly {
			return errdefs.InvalidArgument("%s: volume %s is read-only in this pod (its containers mount it read-only): mount it read-only", w, m.Name)
		}
	}
	return nil
}

// planHostPath resolves a host path volume: the share binds its real path.
func (vs *volumes) planHostPath(pv *podVolume, h *types.HostPathVolumeSource) error {
	real, missing, err := volume.Resolve(h.Path, vs.root, vs.runDir)
	if err != nil {
		return err
	}
	pv.Kind, pv.HostPath, pv.ReadOnly = protocol.MountShare, real, h.ReadOnly
	if missing {
		switch h.Type {
		case "DirectoryOrCreate":
			pv.Create = true
		case "FileOrCreate":
			pv.Create, pv.File = true, true
		default:
			return errdefs.InvalidArgument("host path %s does not exist", h.Path)
		}
		return nil
	}
	st, err := os.Stat(real)
	if err != nil {
		return errdefs.InvalidArgument("host path %s: %w", h.Path, err)
	}
	want := map[string]func(os.FileMode) bool{
		"":          func(os.FileMode) bool { return true },
		"Directory": os.FileMode.IsDir, "DirectoryOrCreate": os.FileMode.IsDir,
		"File": os.FileMode.IsRegular, "FileOrCreate": os.FileMode.IsRegular,
		"Socket": func(m os.FileMode) bool { return m&os.ModeSocket != 0 },
	}[h.Type]
	if want == nil {
		return errdefs.InvalidArgument("host path type %q: want Directory, DirectoryOrCreate, File, FileOrCreate or Socket", h.Type)
	}
	if !want(st.Mode()) {
		return errdefs.InvalidArgument("host path %s is not a %s", h.Path, strings.TrimSuffix(h.Type, "OrCreate"))
	}
	return nil
}

// mountPath checks a container mount path: absolute, not /, and not in
// the guest-managed /proc, /sys and /dev. It returns the path cleaned.
func mountPath(p string) (string, error) {
	if !path.IsAbs(p) || strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("mount path %q is not absolute", p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", fmt.Errorf("cannot mount a volume over /")
	}
	for _, sys := range []string{"/proc", "/sys", "/dev"} {
		if p == sys || strings.HasPrefix(p, sys+"/") {
			return "", fmt.Errorf("mount path %s: %s belongs to the guest", p, sys)
		}
	}
	return p, nil
}

// ensure creates the named volumes of a pod being created that do
// not exist yet, and notes their disk serials in plan.
func (vs *volumes) ensure(podID string, plan []podVolume) error {
	for i, pv := range plan {
		if pv.Kind != protocol.MountDisk {
			continue
		}
		if h := vs.holds.get(pv.Volume); h.running && h.id != podID {
			return inUseError(pv.Volume, h.name)
		}
		r, created, err := vs.store.Ensure(pv.Volume)
		if err != nil {
			return err
		}
		if created {
			vs.log.Info("created volume", "volume", pv.Volume)
		}
		plan[i].Serial = r.Serial()
	}
	return nil
}

// containerMounts are container c's volume mounts, for the guest.
func containerMounts(rec record, c types.ContainerSpec) []protocol.Mount {
	var ms []protocol.Mount
	for _, m := range c.VolumeMounts {
		for _, pv := range rec.Volumes {
			if pv.Name != m.Name {
				continue
			}
			src := pv.Name
			if pv.Kind == protocol.MountDisk {
				src = pv.Serial
			}
			p, _ := mountPath(m.MountPath)
			ms = append(ms, protocol.Mount{Kind: pv.Kind, Source: src, Path: p, ReadOnly: m.ReadOnly || pv.ReadOnly,
				FSType: pv.FSType, SizeMB: pv.SizeMB})
		}
	}
	return ms
}

// shareDir is the per-pod directory exported over 9p.
func (vs *volumes) shareDir(podID string) string { return filepath.Join(vs.root, "shares", podID) }

// attach prepares a starting pod's volumes: its named volumes are
// held for it (Conflict if another running pod has one), created if gone,
// and become hot-plug disks; its host paths are bound into its share. Undo
// with release.
func (vs *volumes) attach(ctx context.Context, p *pod, rec record) (disks []hypervisor.Disk, share hypervisor.Share, err error) {
	defer func() {
		if err != nil {
			vs.release(rec.ID)
		}
	}()
	var hps []volume.HostPath
	attached := map[string]bool{}
	for _, pv := range rec.Volumes {
		switch pv.Kind {
		case protocol.MountDisk:
			if attached[pv.Volume] { // two pod volumes of one named volume: one disk
				continue
			}
			attached[pv.Volume] = true
			if err := vs.hold(ctx, pv.Volume, p, rec.ID); err != nil {
				return nil, share, err
			}
			r, _, err := vs.store.Ensure(pv.Volume)
			if err != nil {
				return nil, share, err
			}
			if r.Serial() != pv.Serial {
				return nil, share, errdefs.Conflict("volume %s was removed and created again since the pod was created: create the pod again", pv.Volume)
			}
			disks = append(disks, hypervisor.Disk{Path: r.Path, Serial: r.Serial(), Hotplug: true})
		case protocol.MountShare:
			if pv.Create {
				if err := createHostPath(pv.HostPath, pv.File); err != nil {
					return nil, share, err
				}
			}
			hps = append(hps, volume.HostPath{Entry: pv.Name, Path: pv.HostPath, ReadOnly: pv.ReadOnly})
		}
	}
	// Every pod gets its share, empty or not: a container added later
	// may bring host paths.
	dir := vs.shareDir(rec.ID)
	if err := volume.BindShare(dir, hps); err != nil {
		return nil, share, err
	}
	return disks, hypervisor.Share{Tag: protocol.PodShareTag, Path: dir}, nil
}

func createHostPath(p string, file bool) error {
	var err error
	if file {
		var f *os.File
		if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	} else {
		err = os.MkdirAll(p, 0o755)
	}
	if err != nil {
		return errdefs.InvalidArgument("creating host path %s: %w", p, err)
	}
	return nil
}

// release undoes attach once the pod's VM is gone (or never came): its
// share is unbound, its named volumes free for another pod.
func (vs *volumes) release(podID string) {
	if err := volume.UnbindShare(vs.shareDir(podID)); err != nil {
		vs.log.Warn("unbinding a pod's host paths", "pod", podID[:12], "err", err)
	}
	vs.holds.drop(podID)
}

// reconcileShares unbinds the shares of pods not running (their VM died
// while hyperd was down, or the pod is gone), at start.
func (vs *volumes) reconcileShares(running map[string]bool) {
	ents, _ := os.ReadDir(filepath.Join(vs.root, "shares"))
	for _, e := range ents {
		if running[e.Name()] {
			continue
		}
		if err := volume.UnbindShare(vs.shareDir(e.Name())); err != nil {
			vs.log.Warn("reconciling pod shares", "err", err)
		}
	}
}

// info describes named volume r, which the pods named users use.
func (vs *volumes) info(r volume.Record, users []string) types.VolumeInfo {
	vi := types.VolumeInfo{Name: r.Name, ID: r.ID, Driver: "local", Format: "ext4", Disk: r.Path, Serial: r.Serial(),
		SizeMB: r.SizeMB, Created: r.Created, Labels: r.Labels, UsedBy: users}
	if h := vs.holds.get(r.Name); h.id != "" {
		vi.RunningIn = h.name
	}
	return vi
}

// remove removes named volume name, unless some pod uses it (users, in
// any state, as docker): a pod that has exited is waited for while its
// VM powers off.
func (vs *volumes) remove(ctx context.Context, name string, users []string) error {
	if err := volume.CheckName(name); err != nil {
		return err
	}
	if len(users) > 0 {
		return errdefs.Conflict("volume %s is in use by pod %s: remove the pod first", name, strings.Join(users, ", "))
	}
	if err := vs.awaitRelease(ctx, name); err != nil {
		return err
	}
	return vs.store.Remove(name)
}

// Volumes adapts the daemon's volumes to api.Volumes.
type Volumes struct{ d *Daemon }

var _ api.Volumes = Volumes{}

// CreateVolume implements api.Volumes.
func (x Volumes) CreateVolume(ctx context.Context, req types.VolumeCreateRequest) (types.VolumeInfo, error) {
	r, err := x.d.vols.store.Create(req.Name, req.SizeMB, req.Labels)
	if err != nil {
		return types.VolumeInfo{}, err
	}
	x.d.Publish(types.EventVolume, types.ActionCreate, r.Name, map[string]string{"driver": "local"})
	return x.d.vols.info(r, x.users(r.Name)), nil
}

// ListVolumes implements api.Volumes.
func (x Volumes) ListVolumes(ctx context.Context) ([]types.VolumeInfo, error) {
	rs, err := x.d.vols.store.List()
	if err != nil {
		return nil, err
	}
	out := []types.VolumeInfo{}
	for _, r := range rs {
		out = append(out, x.d.vols.info(r, x.users(r.Name)))
	}
	return out, nil
}

// InspectVolume implements api.Volumes.
func (x Volumes) InspectVolume(ctx context.Context, name string) (types.VolumeInfo, error) {
	r, err := x.d.vols.store.Get(name)
	if err != nil {
		return types.VolumeInfo{}, err
	}
	return x.d.vols.info(r, x.users(r.Name)), nil
}

// RemoveVolume implements api.Volumes: a volume some pod uses (in any
// state, as docker) is not removed.
func (x Volumes) RemoveVolume(ctx context.Context, name string) error {
	if err := x.d.vols.remove(ctx, name, x.users(name)); err != nil {
		return err
	}
	x.d.Publish(types.EventVolume, types.ActionDestroy, name, map[string]string{"driver": "local"})
	return nil
}

// users names the pods whose spec uses named volume v.
func (x Volumes) users(v string) []string {
	d := x.d
	d.mu.Lock()
	defer d.mu.Unlock()
	users := []string{}
	for _, p := range d.pods {
		p.mu.Lock()
		for _, pv := range p.rec.Volumes {
			if pv.Kind == protocol.MountDisk && pv.Volume == v {
				users = append(users, p.rec.Name)
				break
			}
		}
		p.mu.Unlock()
	}
	sort.Strings(users)
	return users
}
