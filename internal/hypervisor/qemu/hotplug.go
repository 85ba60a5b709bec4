package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// scsiController is the id of every VM's virtio-scsi controller.
const scsiController = "scsi0"

// maxLUN is the highest LUN Hyper uses on target 0.
const maxLUN = 255

// scsiDeviceID is the QEMU device id of the SCSI disk with serial: the
// serial is how both the daemon and the guest name a disk.
func scsiDeviceID(serial string) string { return "sd-" + serial }

// blockNode is the block node behind a hot-added disk.
func blockNode(serial string) string { return "bn-" + serial }

// AddDisk implements hypervisor.DiskHotplugger: the disk becomes the lowest
// free LUN on target 0 of the VM's SCSI controller.
func (v *vm) AddDisk(ctx context.Context, d hypervisor.Disk) error {
	d.Hotplug = true
	if err := checkDisk(d); err != nil {
		return fmt.Errorf("adding disk to vm %s: %w", v.spec.ID, err)
	}
	q, err := v.qmp(ctx)
	if err != nil {
		return fmt.Errorf("adding disk %s to vm %s: %w", d.Serial, v.spec.ID, err)
	}
	defer q.close()
	used, err := usedLUNs(ctx, q)
	if err != nil {
		return fmt.Errorf("adding disk %s to vm %s: %w", d.Serial, v.spec.ID, err)
	}
	if _, ok := used[scsiDeviceID(d.Serial)]; ok {
		return errdefs.Conflict("vm %s already has a disk with serial %s", v.spec.ID, d.Serial)
	}
	lun := freeLUN(used)
	if lun < 0 {
		return errdefs.Unavailable("vm %s: all %d SCSI LUNs are in use", v.spec.ID, maxLUN+1)
	}
	// QEMU may not open the path (jailed): the disk comes as an fd set.
	set, err := addFDSet(ctx, q, d)
	if err != nil {
		return fmt.Errorf("adding disk %s to vm %s: %w", d.Serial, v.spec.ID, err)
	}
	node := blockNode(d.Serial)
	err = q.execute(ctx, "blockdev-add", map[string]any{
		"driver": diskFormat(d), "node-name": node, "read-only": d.ReadOnly,
		"cache": map[string]any{"direct": true},
		"file":  map[string]any{"driver": "file", "filename": fmt.Sprintf("/dev/fdset/%d", set), "aio": "threads"},
	})
	if err == nil {
		err = q.execute(ctx, "device_add", map[string]any{
			"driver": "scsi-hd", "bus": scsiController + ".0", "drive": node, "serial": d.Serial,
			"channel": 0, "scsi-id": 0, "lun": lun, "id": scsiDeviceID(d.Serial),
		})
		if err != nil {
			q.execute(ctx, "blockdev-del", map[string]any{"node-name": node})
		}
	}
	if err != nil {
		removeFDSets(ctx, q, d.Serial)
		return fmt.Errorf("adding disk %s to vm %s: %w", d.Serial, v.spec.ID, err)
	}
	return nil
}

// addFDSet passes the descriptors of d to QEMU as a new fd set named by
// its serial and returns the set's id.
func addFDSet(ctx context.Context, q *qmp, d hypervisor.Disk) (int, error) {
	files, err := openPassed(diskFiles(d))
	defer closeAll(files)
	if err != nil {
		return 0, err
	}
	args := map[string]any{"opaque": d.Serial}
	for _, f := range files {
		raw, err := q.callWithFD(ctx, "add-fd", args, f)
		var r struct {
			Set int `json:"fdset-id"`
		}
		if err == nil {
			err = json.Unmarshal(raw, &r)
		}
		if err != nil {
			removeFDSets(ctx, q, d.Serial)
			return 0, err
		}
		args["fdset-id"] = r.Set // the others join the first's set
	}
	return args["fdset-id"].(int), nil
}

// removeFDSets removes the fd sets of the disk with serial (QEMU closes
// their descriptors once no block node uses them).
func removeFDSets(ctx context.Context, q *qmp, serial string) error {
	raw, err := q.call(ctx, "query-fdsets", nil)
	if err != nil {
		return err
	}
	ids, err := fdSetsOf(raw, serial)
	for _, id := range ids {
		err = errors.Join(err, q.execute(ctx, "remove-fd", map[string]any{"fdset-id": id}))
	}
	return err
}

// fdSetsOf returns the ids of the fd sets named serial in a query-fdsets
// reply (QEMU's: a jailed QEMU is not trusted, FuzzFDSets).
func fdSetsOf(raw json.RawMessage, serial string) ([]int, error) {
	var sets []struct {
		ID  int `json:"fdset-id"`
		FDs []struct {
			Opaque string `json:"opaque"`
		} `json:"fds"`
	}
	if err := json.Unmarshal(raw, &sets); err != nil {
		return nil, fmt.Errorf("qmp query-fdsets: decoding reply: %w", err)
	}
	var ids []int
	for _, s := range sets {
		if len(s.FDs) > 0 && s.FDs[0].Opaque == serial {
			ids = append(ids, s.ID)
		}
	}
	return ids, nil
}

// RemoveDisk implements hypervisor.DiskHotplugger.
func (v *vm) RemoveDisk(ctx context.Context, serial string) error {
	if !validSerial(serial) {
		return errdefs.InvalidArgument("removing disk from vm %s: bad serial %q", v.spec.ID, serial)
	}
	q, err := v.qmp(ctx)
	if err != nil {
		return fmt.Errorf("removing disk %s from vm %s: %w", serial, v.spec.ID, err)
	}
	defer q.close()
	used, err := usedLUNs(ctx, q)
	if err != nil {
		return fmt.Errorf("removing disk %s from vm %s: %w", serial, v.spec.ID, err)
	}
	if _, ok := used[scsiDeviceID(serial)]; ok {
		if err := q.execute(ctx, "device_del", map[string]any{"id": scsiDeviceID(serial)}); err != nil {
			return fmt.Errorf("removing disk %s from vm %s: %w", serial, v.spec.ID, err)
		}
	}
	if err := deleteNode(ctx, q, serial); err != nil {
		return fmt.Errorf("removing disk %s from vm %s: %w", serial, v.spec.ID, err)
	}
	if err := removeFDSets(ctx, q, serial); err != nil {
		return fmt.Errorf("removing disk %s from vm %s: %w", serial, v.spec.ID, err)
	}
	return nil
}

// deleteNode deletes the block node of a hot-added disk. A disk given at
// boot has a -drive backend that goes with its device; a hot-added one
// has a node of its own, free once the device is gone (SCSI unplug
// completes at once, but do not rely on it).
func deleteNode(ctx context.Context, q *qmp, serial string) error {
	for i := 0; ; i++ {
		nodes, err := blockNodes(ctx, q)
		if err != nil || !nodes[blockNode(serial)] {
			return err
		}
		err = q.execute(ctx, "blockdev-del", map[string]any{"node-name": blockNode(serial)})
		if err == nil {
			return nil
		}
		if i == 20 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (v *vm) qmp(ctx context.Context) (*qmp, error) {
	select {
	case <-v.done:
		return nil, errdefs.Conflict("vm %s is not running", v.spec.ID)
	default:
	}
	return dialQMP(ctx, filepath.Join(v.spec.StateDir, qmpSocket))
}

// usedLUNs maps the id of every SCSI disk of the VM to its LUN.
func usedLUNs(ctx context.Context, q *qmp) (map[string]int, error) {
	var children []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := q.query(ctx, "qom-list", map[string]any{"path": "/machine/peripheral"}, &children); err != nil {
		return nil, err
	}
	used := map[string]int{}
	for _, c := range children {
		if !strings.HasPrefix(c.Name, scsiDeviceID("")) {
			continue
		}
		var lun int
		if err := q.query(ctx, "qom-get", map[string]any{"path": "/machine/peripheral/" + c.Name, "property": "lun"}, &lun); err != nil {
			return nil, err
		}
		used[c.Name] = lun
	}
	return used, nil
}

func freeLUN(used map[string]int) int {
	taken := map[int]bool{}
	for _, l := range used {
		taken[l] = true
	}
	for l := 0; l <= maxLUN; l++ {
		if !taken[l] {
			return l
		}
	}
	return -1
}

// blockNodes lists the named block nodes of the VM.
func blockNodes(ctx context.Context, q *qmp) (map[string]bool, error) {
	var nodes []struct {
		NodeName string `json:"node-name"`
	}
	if err := q.query(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &nodes); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range nodes {
		out[n.NodeName] = true
	}
	return out, nil
}

// query runs a command and decodes its return value into out.
func (q *qmp) query(ctx context.Context, cmd string, args, out any) error {
	raw, err := q.call(ctx, cmd, args)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("qmp %s: decoding reply: %w", cmd, err)
	}
	return nil
}
