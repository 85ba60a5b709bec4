// Package disk finds block devices by the serial the host gave them.
// Probe order is never relied on: virtio disks may appear in any order.
//
// Two kinds of disks carry a serial: virtio-blk disks (/sys/block/vdX/serial)
// and SCSI disks on the VM's virtio-scsi controller (VPD page 0x80,
// /sys/block/sdX/device/vpd_pg80). The guest kernel does not scan the SCSI
// bus at boot (scsi_mod.scan=manual); a disk the host added while the VM
// runs is announced by the controller, and one given at boot is found by
// scanning target 0 when a serial is not yet known.
package disk

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
)

// SysBlock is where block devices are listed.
const SysBlock = "/sys/block"

// scanEvery is how often a missing disk triggers a SCSI scan.
const scanEvery = 200 * time.Millisecond

// FindBySerial returns /dev/<name> for the block device whose serial is
// serial, waiting up to timeout for it and its device node to appear.
// SCSI hosts are looked for where sysfs has them next to sysBlock
// (<sysBlock>/../class/scsi_host).
func FindBySerial(sysBlock, devDir, serial string, timeout time.Duration) (string, error) {
	if serial == "" {
		return "", errs.Invalid("empty disk serial")
	}
	deadline := time.Now().Add(timeout)
	var lastScan time.Time
	for {
		if dev, ok := scan(sysBlock, devDir, serial); ok {
			return dev, nil
		}
		if time.Now().After(deadline) {
			return "", errs.Unavailable("no disk with serial %q within %v", serial, timeout)
		}
		if time.Since(lastScan) >= scanEvery {
			scanSCSI(sysBlock)
			lastScan = time.Now()
			continue
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// scanSCSI asks every SCSI host to scan all LUNs of target 0 on channel 0,
// where the host puts its disks. Already known LUNs are left alone.
func scanSCSI(sysBlock string) {
	hosts, _ := filepath.Glob(filepath.Join(filepath.Dir(sysBlock), "class", "scsi_host", "*", "scan"))
	for _, h := range hosts {
		os.WriteFile(h, []byte("0 0 -"), 0)
	}
}

func scan(sysBlock, devDir, serial string) (string, bool) {
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return "", false
	}
	for _, e := range entries {
		if diskSerial(filepath.Join(sysBlock, e.Name())) != serial {
			continue
		}
		dev := filepath.Join(devDir, e.Name())
		if _, err := os.Stat(dev); err != nil {
			return "", false // node not created yet
		}
		return dev, true
	}
	return "", false
}

// diskSerial reads a block device's serial: virtio-blk's serial file, or
// the unit serial number VPD page of a SCSI disk (a 4-byte header, then
// the serial).
func diskSerial(dir string) string {
	const trim = "\x00\n\t "
	if b, err := os.ReadFile(filepath.Join(dir, "serial")); err == nil {
		return strings.TrimRight(string(b), trim)
	}
	b, err := os.ReadFile(filepath.Join(dir, "device", "vpd_pg80"))
	if err != nil || len(b) < 4 || b[1] != 0x80 {
		return ""
	}
	n := int(b[2])<<8 | int(b[3])
	b = b[4:]
	if n < len(b) {
		b = b[:n]
	}
	return strings.Trim(string(b), trim)
}
