// Package secpolicy decides what confines a container's processes in the
// guest: Docker's defaults (its capability set, its seccomp profile, its
// masked and read-only paths) as changed by the container's spec
// (capAdd, capDrop, privileged, securityOpt, runAsNonRoot). The host fills
// the protocol's security fields from it; the guest applies exactly what
// they say (internal/protocol, ProcessSpec).
package secpolicy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/seccomp"
)

// DefaultProfileDir holds the profiles that "seccomp=localhost/<name>"
// names, unless configured otherwise.
const DefaultProfileDir = "/etc/hyper/seccomp"

// Policy resolves containers' security settings.
type Policy struct {
	// ProfileDir holds the seccomp profiles that containers may name
	// ("seccomp=localhost/<name>"); "": DefaultProfileDir.
	ProfileDir string
	Log        *slog.Logger
}

// Security is what restricts a container's main process.
type Security struct {
	Capabilities    *protocol.Capabilities
	NoNewPrivileges bool
	Seccomp         *protocol.SeccompFilter
}

// Apply sets p's security fields.
func (s Security) Apply(p *protocol.ProcessSpec) {
	p.Capabilities, p.NoNewPrivileges, p.Seccomp = s.Capabilities, s.NoNewPrivileges, s.Seccomp
}

// Resolve is the security of container c's main process, user being
// the user it runs as (its own or its image's). Errors are
// InvalidArgument.
func (pol Policy) Resolve(ctx context.Context, c types.ContainerSpec, user string) (Security, error) {
	opts, err := pol.parseOpts(ctx, c.SecurityOpt)
	if err != nil {
		return Security{}, err
	}
	if c.RunAsNonRoot {
		if err := checkNonRoot(user); err != nil {
			return Security{}, err
		}
	}
	caps, err := Caps(c.CapAdd, c.CapDrop, c.Privileged)
	if err != nil {
		return Security{}, err
	}
	s := Security{Capabilities: capSets(caps), NoNewPrivileges: opts.noNewPrivileges}
	profile := opts.profile
	if profile == nil && !opts.unconfined && !c.Privileged {
		profile = seccomp.Default()
	}
	if profile != nil && !opts.unconfined {
		if s.Seccomp, err = seccomp.Compile(profile, caps); err != nil {
			return Security{}, errdefs.InvalidArgument("securityOpt seccomp: %w", err)
		}
	}
	return s, nil
}

// capSets are the sets of a process with caps, as moby sets them:
// bounding, effective and permitted; none inheritable (since Docker
// 20.10.14) nor ambient. A process that runs as another user than root
// loses its effective and permitted ones at exec, as in Docker.
func capSets(caps []string) *protocol.Capabilities {
	if caps == nil {
		caps = []string{}
	}
	return &protocol.Capabilities{Bounding: caps, Effective: caps, Permitted: caps}
}

// ExecCaps are the capabilities of an exec in a container whose main
// process has base: docker exec --privileged gives every capability,
// else the container's.
func ExecCaps(base *protocol.Capabilities, privileged bool) *protocol.Capabilities {
	if privileged {
		return capSets(AllCaps())
	}
	return base
}

// Paths are the masked and read-only paths of container c in the guest:
// Docker's (moby's oci/defaults.go), none when privileged or with
// "systempaths=unconfined". Options were checked by Resolve.
func Paths(c types.ContainerSpec) (masked, readonly []string) {
	if c.Privileged {
		return nil, nil
	}
	for _, o := range c.SecurityOpt {
		if k, v, _ := cutOpt(o); k == "systempaths" && v == "unconfined" {
			return nil, nil
		}
	}
	return []string{
			"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap",
			"/sys/firmware",
		}, []string{
			"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
		}
}

// options are a container's parsed securityOpt.
type options struct {
	noNewPrivileges bool
	unconfined      bool
	profile         *seccomp.Profile // nil: none given
}

// cutOpt splits "key=value" (or docker's deprecated "key:value").
func cutOpt(o string) (k, v string, ok bool) {
	if strings.Contains(o, "=") {
		return strings.Cut(o, "=")
	}
	return strings.Cut(o, ":")
}

// parseOpts reads securityOpt as dockerd does.
func (pol Policy) parseOpts(ctx context.Context, opts []string) (options, error) {
	var o options
	for _, opt := range opts {
		if opt == "no-new-privileges" {
			o.noNewPrivileges = true
			continue
		}
		k, v, ok := cutOpt(opt)
		if !ok {
			if opt == "disable" { // label disable
				pol.ignored(ctx, opt)
				continue
			}
			return options{}, errdefs.InvalidArgument("securityOpt %q: want key=value", opt)
		}
		switch k {
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return options{}, errdefs.InvalidArgument("securityOpt %q: want true or false", opt)
			}
			o.noNewPrivileges = b
		case "seccomp":
			if err := pol.seccompOpt(&o, v); err != nil {
				return options{}, err
			}
		case "systempaths":
			if v != "unconfined" {
				return options{}, errdefs.InvalidArgument("securityOpt %q: the only value is unconfined", opt)
			}
		case "apparmor", "label":
			pol.ignored(ctx, opt)
		default:
			return options{}, errdefs.InvalidArgument("securityOpt %q: unknown option %q", opt, k)
		}
	}
	return o, nil
}

func (pol Policy) ignored(ctx context.Context, opt string) {
	if pol.Log != nil {
		pol.Log.InfoContext(ctx, "security option ignored: a pod's VM has no AppArmor nor SELinux", "securityOpt", opt)
	}
}

// localhostPrefix names a profile in the profile directory, as
// Kubernetes' Localhost profiles.
const localhostPrefix = "localhost/"

func (pol Policy) seccompOpt(o *options, v string) error {
	o.unconfined, o.profile = false, nil
	switch {
	case v == "unconfined":
		o.unconfined = true
		return nil
	case v == "builtin" || v == "default":
		o.profile = seccomp.Default() // named: a privileged container takes it too
		return nil
	case strings.HasPrefix(v, localhostPrefix):
		data, err := pol.readProfile(strings.TrimPrefix(v, localhostPrefix))
		if err != nil {
			return err
		}
		v = string(data)
	case !strings.HasPrefix(strings.TrimSpace(v), "{"):
		return errdefs.InvalidArgument("securityOpt seccomp=%s: not a profile (JSON): hyperctl run reads a FILE and sends its content; a pod file names a profile of hyperd's seccomp directory with seccomp=localhost/NAME", v)
	}
	p, err := seccomp.Parse([]byte(v))
	if err != nil {
		return errdefs.InvalidArgument("securityOpt seccomp: %w", err)
	}
	o.profile = p
	return nil
}

// readProfile reads profile name of the profile directory; a name that
// leaves it (.., an absolute path, a symbolic link out) is refused.
func (pol Policy) readProfile(name string) ([]byte, error) {
	dir := pol.ProfileDir
	if dir == "" {
		dir = DefaultProfileDir
	}
	if !filepath.IsLocal(name) {
		return nil, errdefs.InvalidArgument("seccomp profile %q: not a path inside %s", name, dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, errdefs.InvalidArgument("seccomp profile %q: %w", name, err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, errdefs.InvalidArgument("seccomp profile %q in %s: %w", name, dir, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, seccomp.MaxProfileSize+1)) // Parse refuses more
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile %q: %w", name, err)
	}
	return data, nil
}

// checkNonRoot refuses root and users that cannot be verified as not
// root without the image's passwd file, as the kubelet does.
func checkNonRoot(user string) error {
	name, _, _ := strings.Cut(user, ":")
	if name == "" {
		return errdefs.InvalidArgument("runAsNonRoot: the container runs as root (no user is set)")
	}
	uid, err := strconv.ParseUint(name, 10, 32)
	if err != nil {
		return errdefs.InvalidArgument("runAsNonRoot: user %q is not numeric: cannot verify user is non-root (set runAsUser)", user)
	}
	if uid == 0 {
		return errdefs.InvalidArgument("runAsNonRoot: the container's user %q is root", user)
	}
	return nil
}
