// Package main is hyperd, Hyper's daemon: it owns images, pods (one VM each) and
// their state, and serves the REST API on a unix socket (and, with mutual
// TLS, on TCP: dockerd's --host and --tls* flags).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/config"
	"github.com/hyperhq/hyper/internal/daemon"
	"github.com/hyperhq/hyper/internal/hypervisor"
	_ "github.com/hyperhq/hyper/internal/hypervisor/qemu" // registers the "qemu" driver
	"github.com/hyperhq/hyper/internal/image"
	"github.com/hyperhq/hyper/internal/jail"
	"github.com/hyperhq/hyper/internal/network"
	"github.com/hyperhq/hyper/internal/shutdown"
	"github.com/hyperhq/hyper/internal/template"
	"github.com/hyperhq/hyper/internal/vm"
)

var version = "0.1.0-dev"

func main() {
	jail.Main() // hyperd re-executed as the jailer of a VM's QEMU: never returns
	cfgPath := flag.String("config", config.DefaultPath, "configuration file (TOML)")
	root := flag.String("root", "", "state directory (overrides config)")
	socket := flag.String("socket", "", "API socket (overrides config; with --host, one more host)")
	apiFlags := addAPIFlags()
	runDir := flag.String("run-dir", "", "runtime directory for VM sockets (overrides config)")
	kernel := flag.String("kernel", "", "guest kernel vmlinux (overrides config)")
	initrd := flag.String("initrd", "", "initramfs with hyperstart (overrides config)")
	accel := flag.String("accel", "", "acceleration: auto, kvm or tcg (overrides config)")
	debug := flag.Bool("debug", false, "debug logging")
	flag.Parse()

	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg, err := config.Load(*cfgPath, set["config"])
	if err != nil {
		fatal(err)
	}
	// Paths given as flags are relative to the working directory (the
	// jailer and the VMs never see it).
	for dst, v := range map[*string]string{&cfg.Root: *root, &cfg.Socket: *socket, &cfg.RunDir: *runDir,
		&cfg.Kernel: *kernel, &cfg.Initrd: *initrd} {
		if v != "" {
			if *dst, err = filepath.Abs(v); err != nil {
				fatal(err)
			}
		}
	}
	if *accel != "" {
		cfg.Accel = *accel
	}
	apiFlags.apply(&cfg, set, *socket)
	if *debug {
		cfg.Log.Level = "debug"
	}
	if err := cfg.Validate(); err != nil {
		fatal(err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		fatal(fmt.Errorf("log level: %w", err))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	acc, err := hypervisor.ChooseAccel(hypervisor.AccelRequest{Mode: cfg.Accel, KernelPVM: cfg.KernelPVM}, hypervisor.ProbeHost())
	if err != nil {
		fatal(err)
	}
	log.Info("acceleration", "kind", acc.Kind, "why", acc.Reason)
	for _, f := range []string{cfg.Kernel, cfg.Initrd} {
		if _, err := os.Stat(f); err != nil {
			fatal(fmt.Errorf("guest boot file: %w (see docs/user-guide.md: installing)", err))
		}
	}
	listeners, err := openAPI(cfg, log)
	if err != nil {
		fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills at once
	hvOpts := hypervisor.Options{Transport: cfg.Transport}
	if cfg.Jail.Enabled {
		hvOpts.Jail = hypervisor.Jail{User: cfg.Jail.User, MemoryOverheadMB: cfg.Jail.MemoryOverheadMB, Pids: cfg.Jail.Pids}
	}
	if cfg.Hypervisor == "qemu" {
		hvOpts.Binary = cfg.QEMU // the qemu key predates the hypervisor key
	}
	drv, err := hypervisor.New(cfg.Hypervisor, hvOpts)
	if err != nil {
		fatal(fmt.Errorf("config: %w", err))
	}
	vmCfg := vm.Config{
		Driver: drv,
		Kernel: hypervisor.Kernel{Path: cfg.Kernel, Initrd: cfg.Initrd},
		Accel:  acc, RunDir: filepath.Join(cfg.RunDir, "vms"),
	}
	if tr, ok := drv.(hypervisor.Templater); ok && cfg.VM.Template {
		vmCfg.Templates = template.New(filepath.Join(cfg.Root, "templates"), tr, log)
	} else if cfg.VM.Template {
		log.Info("vm templates off: the hypervisor driver has none", "hypervisor", drv.Name())
	}
	d, err := daemon.New(ctx, daemon.Config{
		Root: cfg.Root, Version: version,
		VM:       vmCfg,
		MemoryMB: cfg.Pod.MemoryMB, VCPUs: cfg.Pod.VCPUs, ScratchMB: cfg.Pod.ScratchMB,
		LogMaxSize: int64(cfg.Log.ContainerMaxMB) << 20, LogMaxFiles: cfg.Log.ContainerFiles,
		Registry:          image.Registry{Insecure: cfg.Registry.Insecure, Mirrors: cfg.Registry.Mirrors},
		Network:           cfg.Network,
		Bridge:            network.Config{Bridge: cfg.Bridge.Name, Subnet: netip.MustParsePrefix(cfg.Bridge.Subnet), MTU: cfg.Bridge.MTU},
		API:               apiInfo(listeners),
		SeccompProfileDir: cfg.SeccompProfileDir,
	}, log)
	if err != nil {
		fatal(err)
	}
	log.Info("hyperd serving", "root", cfg.Root, "version", version)
	if cfg.Metrics.Address != "" { // plain HTTP, no auth: docs/user-guide.md
		go func() {
			if err := d.Metrics().Serve(ctx, cfg.Metrics.Address, log); err != nil {
				log.Error("serving metrics", "address", cfg.Metrics.Address, "err", err)
			}
		}()
	}
	// On SIGTERM the API stops, then the daemon, within shutdown.Limit;
	// pods keep running in their own VMs.
	serve := func(ctx context.Context) error {
		return api.Serve(ctx, listeners, api.NewServer(d.Backend(), log), log)
	}
	if err := shutdown.Run(ctx, log, serve, d.Close); err != nil {
		fatal(err)
	}
	log.Info("hyperd stopped; pods keep running")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "hyperd:", err)
	os.Exit(1)
}
