package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/cgroup"
	"github.com/hyperhq/hyper/internal/hyperstart/disk"
	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/mount"
	"github.com/hyperhq/hyper/internal/hyperstart/security"
	"github.com/hyperhq/hyper/internal/hyperstart/spawn"
	"github.com/hyperhq/hyper/internal/protocol"
)

type state int

const (
	stateCreating state = iota // CreateContainer in progress
	stateCreated               // ready, init not started
	stateStarting              // init being started
	stateRunning               // init running
	stateStopped               // init exited
	stateRemoving              // RemoveContainer in progress
)

func (s state) String() string {
	return [...]string{"creating", "created", "starting", "running", "stopped", "removing"}[s]
}

type container struct {
	id      string
	serial  string
	rootfs  string
	scratch string // writable layer dir, "" if read-only
	cg      cgroup.Group
	cgfd    int
	state   state
	init    *process
	procs   map[string]*process
	order   []string // exec ids, oldest first
	// vols are bound into the container by its init; mounts are their
	// sources' keys in the agent's volume set.
	vols   []spawn.Volume
	mounts []string
	// confinement is applied by the init once /proc, /sys and /dev are
	// mounted.
	confinement spawn.Confinement
	// holder starts the isolated processes while an isolated init runs.
	holder *spawn.Holder
}

// image is a mounted image disk shared by the containers using it.
type image struct {
	dir    string
	fstype string
	refs   int
}

// CreateContainer mounts the container's image and root filesystem and
// creates its cgroup.
func (a *Agent) CreateContainer(ctx context.Context, spec protocol.ContainerSpec) (protocol.Empty, error) {
	if err := ValidateID("container id", spec.ID); err != nil {
		return protocol.Empty{}, err
	}
	if err := ValidateID("disk serial", spec.Rootfs.DiskSerial); err != nil {
		return protocol.Empty{}, err
	}
	if err := validateMounts(spec.Mounts); err != nil {
		return protocol.Empty{}, err
	}
	fstype := spec.Rootfs.FSType
	if fstype == "" {
		fstype = "erofs"
	}
	if fstype != "erofs" && fstype != "ext4" {
		return protocol.Empty{}, errs.Invalid("unsupported image filesystem %q", fstype)
	}
	if err := validateFiles(spec.Files); err != nil {
		return protocol.Empty{}, err
	}
	if err := security.ValidatePaths("masked path", spec.MaskedPaths); err != nil {
		return protocol.Empty{}, err
	}
	if err := security.ValidatePaths("read-only path", spec.ReadonlyPaths); err != nil {
		return protocol.Empty{}, err
	}
	if r := spec.Resources; r != nil {
		if err := r.Check(); err != nil {
			return protocol.Empty{}, errs.Invalid("container %s: %v", spec.ID, err)
		}
	}
	a.mu.Lock()
	if a.pod == nil {
		a.mu.Unlock()
		return protocol.Empty{}, errs.Conflict("pod not created yet")
	}
	if _, ok := a.containers[spec.ID]; ok {
		a.mu.Unlock()
		return protocol.Empty{}, errs.Conflict("container %s already exists", spec.ID)
	}
	c := &container{
		id:     spec.ID,
		serial: spec.Rootfs.DiskSerial,
		rootfs: filepath.Join(a.cfg.Paths.containers(), spec.ID, "rootfs"),
		cgfd:   -1,
		state:  stateCreating,
		procs:  make(map[string]*process),
		confinement: spawn.Confinement{MaskedPaths: spec.MaskedPaths, ReadonlyPaths: spec.ReadonlyPaths,
			Privileged: spec.Privileged, ShmSizeMB: spec.ShmSizeMB},
	}
	a.containers[spec.ID] = c
	a.mu.Unlock()

	err := a.setupContainer(c, fstype, spec.Rootfs.ReadOnly, spec.Files)
	if err == nil && spec.Resources != nil {
		if err = c.cg.SetLimits(*spec.Resources); err != nil {
			err = errs.Internal("%w", err)
			a.teardownContainer(c)
		}
	}
	if err == nil {
		if c.vols, err = a.acquireMounts(spec.Mounts); err == nil {
			c.mounts = mountKeys(spec.Mounts)
		} else {
			a.teardownContainer(c)
		}
	}
	a.mu.Lock()
	if err != nil {
		delete(a.containers, c.id)
	} else {
		c.state = stateCreated
	}
	a.mu.Unlock()
	if err == nil {
		slog.Info("container created", "id", c.id, "image", c.serial)
	}
	return protocol.Empty{}, err
}

func (a *Agent) setupContainer(c *container, fstype string, readOnly bool, files []protocol.FileSpec) (err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	imgDir, err := a.acquireImage(c.serial, fstype)
	if err != nil {
		return err
	}
	undo = append(undo, func() { a.releaseImage(c.serial) })

	if err := os.MkdirAll(c.rootfs, 0o755); err != nil {
		return errs.Internal("creating %s: %w", c.rootfs, err)
	}
	undo = append(undo, func() { os.RemoveAll(filepath.Dir(c.rootfs)) })
	if readOnly && len(files) == 0 {
		if err := bindReadOnly(imgDir, c.rootfs); err != nil {
			return errs.Internal("%w", err)
		}
	} else {
		c.scratch = filepath.Join(a.cfg.Paths.scratch(), "containers", c.id)
		os.RemoveAll(c.scratch) // leftovers of an earlier container with this id
		upper, work := filepath.Join(c.scratch, "upper"), filepath.Join(c.scratch, "work")
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return errs.Internal("creating %s: %w", d, err)
			}
		}
		undo = append(undo, func() { os.RemoveAll(c.scratch) })
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", imgDir, upper, work)
		if err := unix.Mount("overlay", c.rootfs, "overlay", 0, opts); err != nil {
			return errs.Internal("mounting overlay on %s: %w", c.rootfs, err)
		}
	}
	undo = append(undo, func() { mount.Unmount(c.rootfs) })
	if err := writeFiles(c.rootfs, files); err != nil {
		return err
	}
	if readOnly && len(files) > 0 {
		if err := remountReadOnly(c.rootfs); err != nil {
			return err
		}
	}

	cg, err := cgroup.Create(filepath.Join(a.cfg.Paths.CgroupDir, c.id))
	if err != nil {
		return errs.Internal("%w", err)
	}
	undo = append(undo, func() { cg.Remove() })
	fd, err := cg.Open()
	if err != nil {
		return errs.Internal("%w", err)
	}
	c.cg, c.cgfd = cg, fd
	return nil
}

func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding %s on %s: %w", src, dst, err)
	}
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		mount.Unmount(dst)
		return fmt.Errorf("remounting %s read-only: %w", dst, err)
	}
	return nil
}

// acquireImage mounts the image disk (once per disk) and returns where.
func (a *Agent) acquireImage(serial, fstype string) (string, error) {
	a.imgMu.Lock()
	defer a.imgMu.Unlock()
	if img, ok := a.images[serial]; ok {
		if img.fstype != fstype {
			return "", errs.Invalid("disk %s is already mounted as %s, not %s", serial, img.fstype, fstype)
		}
		img.refs++
		return img.dir, nil
	}
	dev, err := disk.FindBySerial(a.cfg.Paths.SysBlock, a.cfg.Paths.Dev, serial, DiskTimeout)
	if err != nil {
		return "", err
	}
	data := ""
	if fstype == "ext4" {
		data = "noload" // never replay a journal on a read-only image
	}
	e := mount.Entry{Source: dev, Target: filepath.Join(a.cfg.Paths.images(), serial), FSType: fstype,
		Flags: unix.MS_RDONLY | unix.MS_NODEV, Data: data}
	if err := e.Mount(); err != nil {
		return "", errs.Internal("image disk %s: %w", serial, err)
	}
	a.images[serial] = &image{dir: e.Target, fstype: fstype, refs: 1}
	return e.Target, nil
}

func (a *Agent) releaseImage(serial string) {
	a.imgMu.Lock()
	defer a.imgMu.Unlock()
	img, ok := a.images[serial]
	if !ok {
		return
	}
	if img.refs--; img.refs > 0 {
		return
	}
	delete(a.images, serial)
	if err := mount.Unmount(img.dir); err != nil {
		slog.Warn("releasing image", "serial", serial, "err", err)
		return
	}
	os.Remove(img.dir)
}

// RemoveContainer removes a stopped (or never started) container.
func (a *Agent) RemoveContainer(ctx context.Context, ref protocol.ContainerRef) (protocol.Empty, error) {
	a.mu.Lock()
	c, err := a.lookup(ref.Container)
	if err == nil && c.state != stateCreated && c.state != stateStopped {
		err = errs.Conflict("container %s is %s", c.id, c.state)
	}
	if err != nil {
		a.mu.Unlock()
		return protocol.Empty{}, err
	}
	if pop, _ := c.cg.Populated(); pop {
		a.mu.Unlock()
		return protocol.Empty{}, errs.Conflict("container %s still has running processes", c.id)
	}
	prev := c.state
	c.state = stateRemoving
	a.mu.Unlock()

	if err := a.teardownContainer(c); err != nil {
		a.mu.Lock()
		c.state = prev
		a.mu.Unlock()
		return protocol.Empty{}, err
	}
	a.releaseMounts(c.mounts)
	a.mu.Lock()
	delete(a.containers, c.id)
	a.mu.Unlock()
	slog.Info("container removed", "id", c.id)
	return protocol.Empty{}, nil
}

// teardownContainer undoes setupContainer.
func (a *Agent) teardownContainer(c *container) error {
	if err := mount.Unmount(c.rootfs); err != nil {
		return errs.Internal("%w", err)
	}
	os.RemoveAll(filepath.Dir(c.rootfs))
	a.releaseImage(c.serial)
	if c.scratch != "" {
		if err := os.RemoveAll(c.scratch); err != nil {
			slog.Warn("removing writable layer", "container", c.id, "err", err)
		}
	}
	unix.Close(c.cgfd)
	if err := c.cg.Remove(); err != nil {
		slog.Warn("removing container cgroup", "container", c.id, "err", err)
	}
	return nil
}

// lookup finds a container; a.mu must be held.
func (a *Agent) lookup(id string) (*container, error) {
	if err := ValidateID("container id", id); err != nil {
		return nil, err
	}
	c, ok := a.containers[id]
	if !ok || c.state == stateCreating {
		return nil, errs.NotFound("no container %s", id)
	}
	return c, nil
}

// lookupProcs finds the container whose processes cid names: a container,
// or the VM itself (protocol.VMContainer); a.mu must be held.
func (a *Agent) lookupProcs(cid string) (*container, error) {
	if cid == protocol.VMContainer {
		return a.vm, nil
	}
	return a.lookup(cid)
}
