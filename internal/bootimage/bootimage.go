// Package bootimage assembles the guest's initramfs: hyperstart as /init,
// the mount points it needs, and /dev/console so the kernel can give /init
// a console before devtmpfs is mounted.
package bootimage

import (
	"fmt"
	"os"

	"github.com/hyperhq/hyper/internal/initramfs"
)

// base are the entries every Hyper initramfs has.
func base() []initramfs.Entry {
	e := []initramfs.Entry{initramfs.CharDev("dev/console", 0o600, 5, 1)}
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "etc", "mnt"} {
		e = append(e, initramfs.Dir(d, 0o755))
	}
	return e
}

// WriteHyperstart writes an initramfs to out whose /init is the hyperstart
// binary at initPath.
func WriteHyperstart(out, initPath string) error {
	b, err := os.ReadFile(initPath)
	if err != nil {
		return fmt.Errorf("reading hyperstart: %w", err)
	}
	return initramfs.WriteFile(out, append(base(), initramfs.File("init", 0o755, b)))
}

// WritePoweroff writes an initramfs whose /init powers the VM off at once,
// using a static busybox: the boot-time floor that benchmarks compare with.
func WritePoweroff(out, busybox string) error {
	return WriteBusyboxScript(out, busybox, "/bin/busybox reboot -f\n")
}

// WriteBusyboxScript writes an initramfs whose /init is a busybox shell
// script (used for the boot floor and for guests that misbehave on purpose
// in tests).
func WriteBusyboxScript(out, busybox, script string) error {
	b, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("reading busybox: %w", err)
	}
	return initramfs.WriteFile(out, append(base(),
		initramfs.Dir("bin", 0o755),
		initramfs.File("bin/busybox", 0o755, b),
		initramfs.File("init", 0o755, []byte("#!/bin/busybox sh\n"+script)),
	))
}
