// Package main is hyperdev, Hyper's developer tool: it packs hyperstart into an
// initramfs and runs one command in a fresh pod VM.
//
//	hyperdev initrd -o out/initrd.img [-busybox /bin/busybox] out/hyperstart
//	hyperdev busybox-image -o busybox.tar [--name busybox:latest]
//	hyperdev run [--kernel K] [--initrd I] [--image IMG] [--accel auto|kvm|tcg] [--hypervisor qemu] -- CMD...
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"github.com/hyperhq/hyper/internal/bootimage"
	"github.com/hyperhq/hyper/internal/devimage"
	"github.com/hyperhq/hyper/internal/devrun"
	"github.com/hyperhq/hyper/internal/hypervisor"
	_ "github.com/hyperhq/hyper/internal/hypervisor/qemu" // registers the "qemu" driver
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: hyperdev initrd|run ...")
	}
	switch os.Args[1] {
	case "initrd":
		fs := flag.NewFlagSet("initrd", flag.ExitOnError)
		out := fs.String("o", "initrd.img", "output file")
		busybox := fs.String("busybox", "", "static busybox to include as the VM's tools (hyperctl exec --vm)")
		fs.Parse(os.Args[2:])
		if fs.NArg() != 1 {
			fail("usage: hyperdev initrd -o FILE [-busybox BUSYBOX] HYPERSTART")
		}
		if err := bootimage.WriteHyperstart(*out, fs.Arg(0), *busybox); err != nil {
			fail(err.Error())
		}
	case "busybox-image":
		fs := flag.NewFlagSet("busybox-image", flag.ExitOnError)
		out := fs.String("o", "busybox.tar", "output docker-save archive")
		name := fs.String("name", "busybox:latest", "image name")
		fs.Parse(os.Args[2:])
		f, err := os.Create(*out)
		if err == nil {
			err = devimage.BusyboxArchive(f, *name)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fail(err.Error())
		}
	case "run":
		os.Exit(run(os.Args[2:]))
	default:
		fail("unknown command " + os.Args[1])
	}
}

func run(args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	kernel := fs.String("kernel", "out/vmlinux", "guest kernel (vmlinux)")
	initrd := fs.String("initrd", "out/initrd.img", "initramfs with hyperstart")
	image := fs.String("image", "", "EROFS root filesystem (default: a busybox image)")
	accel := fs.String("accel", "auto", "acceleration: auto, kvm or tcg")
	pvm := fs.Bool("pvm-kernel", false, "the kernel is PVM-capable")
	rundir := fs.String("run-dir", "/run/hyper/dev", "state directory")
	driver := fs.String("hypervisor", "qemu", "hypervisor driver")
	fs.Parse(args)
	if fs.NArg() == 0 {
		fail("usage: hyperdev run [flags] -- CMD...")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	acc, err := hypervisor.ChooseAccel(hypervisor.AccelRequest{Mode: *accel, KernelPVM: *pvm}, hypervisor.ProbeHost())
	if err != nil {
		fail(err.Error())
	}
	log.Info("acceleration", "kind", acc.Kind, "why", acc.Reason)
	drv, err := hypervisor.New(*driver, hypervisor.Options{})
	if err != nil {
		fail(err.Error())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := devrun.Run(ctx, devrun.Options{
		Config: vm.Config{
			Driver: drv,
			Kernel: hypervisor.Kernel{Path: *kernel, Initrd: *initrd},
			Accel:  acc, RunDir: *rundir, Log: log,
		},
		Image:   *image,
		Process: protocol.ProcessSpec{Args: fs.Args()},
		Stdout:  os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		fail(err.Error())
	}
	return st.Code
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "hyperdev:", msg)
	os.Exit(125)
}
