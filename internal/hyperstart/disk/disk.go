// Package disk finds block devices by the serial the host gave them.
// Probe order is never relied on: virtio disks may appear in any order.
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

// FindBySerial returns /dev/<name> for the block device whose serial is
// serial, waiting up to timeout for it and its device node to appear.
func FindBySerial(sysBlock, devDir, serial string, timeout time.Duration) (string, error) {
	if serial == "" {
		return "", errs.Invalid("empty disk serial")
	}
	deadline := time.Now().Add(timeout)
	for {
		if dev, ok := scan(sysBlock, devDir, serial); ok {
			return dev, nil
		}
		if time.Now().After(deadline) {
			return "", errs.Unavailable("no disk with serial %q within %v", serial, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func scan(sysBlock, devDir, serial string) (string, bool) {
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return "", false
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(sysBlock, e.Name(), "serial"))
		if err != nil || strings.TrimRight(string(b), "\x00\n\t ") != serial {
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
