// Package config reads hyperd's TOML configuration. Every setting has a
// default that works with no file at all; unknown keys are an error, so a
// typo is never silently ignored. Flags override the file.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/hyperhq/hyper/internal/endpoint"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// DefaultPath is where hyperd looks for its configuration.
const DefaultPath = "/etc/hyper/hyperd.toml"

// Config is hyperd's configuration.
type Config struct {
	Root   string `toml:"root"`    // state: database, images, pods
	RunDir string `toml:"run_dir"` // VM sockets and logs (tmpfs)
	Socket string `toml:"socket"`  // the API's unix socket, unless API.Hosts say otherwise
	Group  string `toml:"group"`   // group owning the unix sockets, if it exists

	Kernel    string `toml:"kernel"`     // guest kernel (vmlinux)
	Initrd    string `toml:"initrd"`     // initramfs with hyperstart
	KernelPVM bool   `toml:"kernel_pvm"` // the kernel runs under PVM
	Accel     string `toml:"accel"`      // auto, kvm or tcg
	// Hypervisor is the driver that runs pod VMs, by the name it is
	// registered under (docs/adr/0010-hypervisor-drivers.md).
	Hypervisor string `toml:"hypervisor"`
	QEMU       string `toml:"qemu"` // QEMU binary (hypervisor "qemu")
	// Transport of the guest channel, given to the driver: serial
	// (virtio-serial) or vsock (needs /dev/vhost-vsock).
	Transport string `toml:"transport"`
	// Network is the default network mode of pods: user (the
	// hypervisor's user-mode NIC), bridge (a tap on Bridge) or none (loopback only).
	// docs/networking.md.
	Network string `toml:"network"`
	Bridge  Bridge `toml:"bridge"`
	// SeccompProfileDir holds the seccomp profiles containers may name
	// ("seccomp=localhost/NAME", a pod file's Localhost seccompProfile).
	SeccompProfileDir string `toml:"seccomp_profile_dir"`

	VM       VM       `toml:"vm"`
	Jail     Jail     `toml:"jail"`
	Pod      Pod      `toml:"pod"`
	Log      Log      `toml:"log"`
	Registry Registry `toml:"registry"`
	API      API      `toml:"api"`
	Metrics  Metrics  `toml:"metrics"`
}

// Metrics configures where else hyperd serves its Prometheus metrics:
// they are always on the API's listeners at /metrics.
type Metrics struct {
	// Address, if set, serves GET /metrics on this TCP host:port too, in
	// plain HTTP without authentication (keep it on loopback, e.g.
	// 127.0.0.1:9323, or behind a firewall).
	Address string `toml:"address"`
}

// API configures where hyperd serves its API and how TCP is guarded
// (docs/user-guide.md, "Remote access"). dockerd's flags set it:
// --host, --tls, --tlsverify, --tlscacert, --tlscert, --tlskey.
type API struct {
	// Hosts are the listeners, unix:///path or tcp://host:port; none
	// means the unix socket Socket.
	Hosts []string `toml:"hosts"`
	// InsecureTCP accepts TCP hosts without mutual TLS (no TLS, or TLS
	// without client verification): whoever reaches the port controls
	// hyperd. Off, such a host is refused at start.
	InsecureTCP bool `toml:"insecure_tcp"`
	TLS         TLS  `toml:"tls"`
}

// TLS is the TLS of the TCP hosts.
type TLS struct {
	// Enabled serves TLS with Cert and Key; alone it does not check
	// clients, so it needs InsecureTCP.
	Enabled bool `toml:"enabled"`
	// Verify serves TLS and requires client certificates signed by CA
	// (dockerd's --tlsverify; implies Enabled).
	Verify bool   `toml:"verify"`
	CA     string `toml:"ca"`   // PEM CA certificate that signs clients' certificates
	Cert   string `toml:"cert"` // PEM server certificate
	Key    string `toml:"key"`  // its PEM private key
}

// Listeners are the hosts hyperd listens on: API.Hosts, or the unix
// socket Socket.
func (c Config) Listeners() ([]endpoint.Host, error) {
	if len(c.API.Hosts) == 0 {
		return []endpoint.Host{{Network: endpoint.Unix, Address: c.Socket}}, nil
	}
	hosts := make([]endpoint.Host, 0, len(c.API.Hosts))
	for _, s := range c.API.Hosts {
		h, err := endpoint.Parse(s)
		if err != nil {
			return nil, errdefs.InvalidArgument("config: api.hosts: %w", err)
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts, nil
}

// validateAPI refuses TCP without mutual TLS unless InsecureTCP says so,
// and TLS without its files.
func (c Config) validateAPI() error {
	hosts, err := c.Listeners()
	if err != nil {
		return err
	}
	t := c.API.TLS
	if t.Enabled || t.Verify {
		if t.Cert == "" || t.Key == "" {
			return errdefs.InvalidArgument("config: TLS needs a server certificate and key (--tlscert, --tlskey; api.tls.cert, api.tls.key)")
		}
		if t.Verify && t.CA == "" {
			return errdefs.InvalidArgument("config: --tlsverify needs the CA that signs client certificates (--tlscacert; api.tls.ca)")
		}
	}
	if t.Verify || c.API.InsecureTCP {
		return nil
	}
	for _, h := range hosts {
		if h.Network != endpoint.TCP {
			continue
		}
		how := "without TLS"
		if t.Enabled {
			how = "with TLS but no client verification"
		}
		return errdefs.InvalidArgument("config: refusing to serve the API on %s %s: whoever reaches the port would control hyperd and every pod. "+
			"Use --tlsverify with --tlscacert, --tlscert and --tlskey (api.tls.verify), or accept that risk with --insecure-tcp (api.insecure_tcp)", h, how)
	}
	return nil
}

// Registry configures image pulls. Credentials are not here: hyperd reads
// them from the docker config of the user it runs as (root:
// /root/.docker/config.json, or $DOCKER_CONFIG/config.json), credential
// helpers included; `hyperctl login` writes that file.
type Registry struct {
	// Insecure lists registries ("host:port") reached over plain HTTP.
	// Loopback and private (RFC 1918) addresses always may be.
	Insecure []string `toml:"insecure"`
	// Mirrors maps a registry ("docker.io") to mirror endpoints
	// ("http://10.0.0.1:5000" or "mirror.example"), tried in order
	// before the registry itself.
	Mirrors map[string][]string `toml:"mirrors"`
}

// Bridge configures the bridge network mode.
type Bridge struct {
	Name   string `toml:"name"`   // the Linux bridge (hyper0)
	Subnet string `toml:"subnet"` // pods' addresses; the first is the bridge's (the gateway)
	MTU    int    `toml:"mtu"`
}

// VM configures how pod VMs start.
type VM struct {
	// Template: pod VMs resume a saved, booted guest instead of booting
	// (docs/adr/0009-vm-templates.md); the template is built on first use.
	Template bool `toml:"template"`
}

// Jail confines each pod's QEMU (docs/adr/0012-qemu-jail.md): it runs as
// User (never root), in a root of its own holding only its boot files and
// shares, with a seccomp filter, in a cgroup limited to the pod's memory
// plus MemoryOverheadMB and to Pids tasks. Off, QEMU runs as root and sees
// the host (for debugging).
type Jail struct {
	Enabled          bool   `toml:"enabled"`
	User             string `toml:"user"`
	MemoryOverheadMB int    `toml:"memory_overhead_mb"`
	Pids             int    `toml:"pids"`
}

// Pod holds per-pod defaults.
type Pod struct {
	MemoryMB  int `toml:"memory_mb"`
	VCPUs     int `toml:"vcpus"`
	ScratchMB int `toml:"scratch_mb"` // sparse writable-layer disk
}

// Log configures logging and container log rotation.
type Log struct {
	Level          string `toml:"level"` // debug, info, warn, error
	ContainerMaxMB int    `toml:"container_max_mb"`
	ContainerFiles int    `toml:"container_files"`
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		Root: "/var/lib/hyper", RunDir: "/run/hyper", Socket: "/run/hyper/hyper.sock", Group: "hyper",
		SeccompProfileDir: "/etc/hyper/seccomp",
		Kernel:            "/usr/local/lib/hyper/vmlinux", Initrd: "/usr/local/lib/hyper/initrd.img",
		Accel: "auto", Hypervisor: "qemu", QEMU: "qemu-system-x86_64", Transport: "serial", Network: "user",
		Bridge: Bridge{Name: "hyper0", Subnet: "10.88.0.0/16", MTU: 1500},
		VM:     VM{Template: true},
		Jail:   Jail{Enabled: true, User: "hyper-qemu", MemoryOverheadMB: 320, Pids: 1024},
		Pod:    Pod{MemoryMB: 256, VCPUs: 1, ScratchMB: 10 << 10},
		Log:    Log{Level: "info", ContainerMaxMB: 10, ContainerFiles: 3},
	}
}

// Load reads path over the defaults. A missing file is fine when
// mustExist is false (the default path).
func Load(path string, mustExist bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !mustExist {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading config: %w", err)
	}
	return Parse(string(b))
}

// Parse reads a configuration text over the defaults.
func Parse(text string) (Config, error) {
	c := Default()
	md, err := toml.Decode(text, &c)
	if err != nil {
		return c, errdefs.InvalidArgument("config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, k.String())
		}
		return c, errdefs.InvalidArgument("config: unknown keys: %s", strings.Join(keys, ", "))
	}
	return c, c.Validate()
}

// Validate checks values that defaults cannot fix.
func (c Config) Validate() error {
	switch {
	case c.Root == "" || c.RunDir == "" || c.Socket == "":
		return errdefs.InvalidArgument("config: root, run_dir and socket must be set")
	case c.Pod.MemoryMB < 64:
		return errdefs.InvalidArgument("config: pod.memory_mb %d is below the guest's minimum of 64", c.Pod.MemoryMB)
	case c.Pod.VCPUs < 1:
		return errdefs.InvalidArgument("config: pod.vcpus must be at least 1")
	case c.Pod.ScratchMB < 64:
		return errdefs.InvalidArgument("config: pod.scratch_mb must be at least 64")
	case c.Jail.Enabled && c.Jail.User == "":
		return errdefs.InvalidArgument("config: jail.user must be set when jail.enabled (hyper-qemu)")
	case c.Jail.MemoryOverheadMB < 64:
		return errdefs.InvalidArgument("config: jail.memory_overhead_mb %d: QEMU needs at least 64 MiB beside the guest's memory", c.Jail.MemoryOverheadMB)
	case c.Jail.Pids < 64:
		return errdefs.InvalidArgument("config: jail.pids %d: QEMU needs at least 64 threads", c.Jail.Pids)
	}
	for key, p := range map[string]string{"root": c.Root, "run_dir": c.RunDir, "socket": c.Socket, "kernel": c.Kernel, "initrd": c.Initrd} {
		if p != "" && !filepath.IsAbs(p) {
			return errdefs.InvalidArgument("config: %s %q must be an absolute path", key, p)
		}
	}
	for _, h := range c.Registry.Insecure {
		if h == "" || strings.Contains(h, "/") {
			return errdefs.InvalidArgument("config: registry.insecure %q: want host[:port]", h)
		}
	}
	for reg, ms := range c.Registry.Mirrors {
		for _, m := range ms {
			if m == "" || (strings.Contains(m, "://") && !strings.HasPrefix(m, "http://") && !strings.HasPrefix(m, "https://")) {
				return errdefs.InvalidArgument("config: registry.mirrors[%q]: bad endpoint %q (want http(s)://host[:port] or host[:port])", reg, m)
			}
		}
	}
	if c.Hypervisor == "" {
		return errdefs.InvalidArgument("config: hypervisor must be set (qemu)")
	}
	if a := c.Metrics.Address; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return errdefs.InvalidArgument("config: metrics.address %q: want host:port, e.g. 127.0.0.1:9323", a)
		}
	}
	switch c.Transport {
	case "serial", "vsock":
	default:
		return errdefs.InvalidArgument("config: transport %q: want serial or vsock", c.Transport)
	}
	switch c.Network {
	case "user", "none", "bridge":
	default:
		return errdefs.InvalidArgument("config: network %q: want user, bridge or none", c.Network)
	}
	if p, err := netip.ParsePrefix(c.Bridge.Subnet); err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return errdefs.InvalidArgument("config: bridge.subnet %q: want an IPv4 network of at least 4 addresses (10.88.0.0/16)", c.Bridge.Subnet)
	}
	if n := c.Bridge.Name; n == "" || len(n) > 15 || strings.ContainsAny(n, "/ \t") {
		return errdefs.InvalidArgument("config: bridge.name %q: want a network interface name of 1-15 characters", n)
	}
	if c.Bridge.MTU < 68 || c.Bridge.MTU > 65535 {
		return errdefs.InvalidArgument("config: bridge.mtu %d: want 68-65535", c.Bridge.MTU)
	}
	switch c.Accel {
	case "auto", "kvm", "tcg":
	default:
		return errdefs.InvalidArgument("config: accel %q: want auto, kvm or tcg", c.Accel)
	}
	return c.validateAPI()
}
