// Package bootimage assembles the guest's initramfs: hyperstart as /init,
// the mount points it needs, /dev/console so the kernel can give /init
// a console before devtmpfs is mounted, and a static busybox as the VM's
// own tools.
package bootimage

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"strings"

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
// binary at initPath. busybox, if not "", is a static busybox put at
// /bin/busybox with a symlink per applet: the tools of the VM itself
// (hyperctl exec --vm), which containers never see.
func WriteHyperstart(out, initPath, busybox string) error {
	b, err := os.ReadFile(initPath)
	if err != nil {
		return fmt.Errorf("reading hyperstart: %w", err)
	}
	entries := append(base(), initramfs.File("init", 0o755, b))
	if busybox != "" {
		bb, err := busyboxEntries(busybox)
		if err != nil {
			return err
		}
		entries = append(entries, bb...)
	}
	return initramfs.WriteFile(out, entries)
}

// busyboxEntries are bin/, bin/busybox and bin/APPLET -> busybox for each
// applet the binary lists (it runs on the build host: same architecture).
func busyboxEntries(path string) ([]initramfs.Entry, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("busybox %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("busybox %s is dynamically linked: the VM has no libc (install busybox-static)", path)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading busybox: %w", err)
	}
	list, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", path, err)
	}
	entries := []initramfs.Entry{initramfs.Dir("bin", 0o755), initramfs.File("bin/busybox", 0o755, b)}
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		entries = append(entries, initramfs.Entry{Path: "bin/" + a, Mode: initramfs.TypeSymlink | 0o777, Data: []byte("busybox")})
	}
	return entries, nil
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
