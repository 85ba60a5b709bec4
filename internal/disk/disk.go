// Package disk creates the disk images Hyper attaches to VMs.
package disk

import (
	"fmt"
	"os"
	"os/exec"
)

// CreateExt4 creates a sparse ext4 image of sizeMB at path: only what the
// guest writes takes host disk space.
func CreateExt4(path string, sizeMB int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating disk: %w", err)
	}
	err = f.Truncate(int64(sizeMB) << 20)
	f.Close()
	if err == nil {
		var out []byte
		out, err = exec.Command("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", path).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("mkfs.ext4: %v: %s", err, out)
		}
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("creating disk %s: %w", path, err)
	}
	return nil
}
