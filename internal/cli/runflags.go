package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// runFlags are run's and create's docker flags beyond the first ones
// (run.go): restart policy, /etc/hosts, rlimits, mounts, stopping,
// groups, and the flags a VM cannot honour (refused).
type runFlags struct {
	restart     string
	addHosts    []string
	ulimits     []string
	tmpfs       []string
	mounts      []string
	stopSignal  string
	stopTimeout int
	groupAdd    []string
	devices     []string
	gpus        string
	// namespaces are --pid, --ipc, --uts, --userns, --cgroupns: refused.
	namespaces map[string]*string
	init       bool
	cidfile    string
	logDriver  string
	logOpts    []string
	publishAll bool
	shmSize    string
	health     healthFlags
}

func addRunFlagsMore(f *pflag.FlagSet, o *runFlags) {
	f.StringVar(&o.restart, "restart", "", "restart policy: no, on-failure[:N], always, unless-stopped (always and unless-stopped pods are started again when hyperd starts; unless-stopped not after a stop)")
	f.StringArrayVar(&o.addHosts, "add-host", nil, "add an /etc/hosts entry: NAME:IP (IP host-gateway: the host as the pod reaches it)")
	f.StringArrayVar(&o.ulimits, "ulimit", nil, "set a resource limit: NAME=SOFT[:HARD] (nofile=1024:2048)")
	f.StringArrayVar(&o.tmpfs, "tmpfs", nil, "mount a tmpfs (in the VM's memory): /path[:size=64m,mode=1777,ro|rw]")
	f.StringArrayVar(&o.mounts, "mount", nil, "mount: type=bind|volume|tmpfs,source=...,target=...[,readonly][,tmpfs-size=...]")
	f.StringVar(&o.stopSignal, "stop-signal", "", "signal that stops the container (default SIGTERM, or the image's STOPSIGNAL)")
	f.IntVar(&o.stopTimeout, "stop-timeout", 0, "seconds stop waits (without -t) before SIGKILL (default 10)")
	f.StringArrayVar(&o.groupAdd, "group-add", nil, "add the process to more groups (names or ids)")
	f.StringArrayVar(&o.devices, "device", nil, "refused: a VM has no host devices")
	f.StringVar(&o.gpus, "gpus", "", "refused: a VM has no host devices")
	o.namespaces = map[string]*string{}
	for _, ns := range []string{"pid", "ipc", "uts", "userns", "cgroupns"} {
		o.namespaces[ns] = f.String(ns, "", "refused: the pod's VM has its own namespaces (put containers that share them in one pod)")
	}
	f.BoolVar(&o.init, "init", false, "accepted, changes nothing: hyperstart already reaps zombies and forwards signals as an init does")
	f.StringVar(&o.cidfile, "cidfile", "", "write the pod's ID to FILE (which must not exist)")
	f.StringVar(&o.logDriver, "log-driver", "", "logging driver: json-file or local (the only one: hyperd's own log files)")
	f.StringArrayVar(&o.logOpts, "log-opt", nil, "log rotation of the pod: max-size=SIZE (10m), max-file=N")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "publish every port the image EXPOSEs on a free host port (chosen at create)")
	f.StringVar(&o.shmSize, "shm-size", "", "size of /dev/shm: 128m, 1g (a bare number is MB; default 64m)")
	addHealthFlags(f, &o.health)
}

// setInFile names the flags given that a pod file should declare.
func (o *runFlags) setInFile() []string {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"--restart", o.restart != ""}, {"--add-host", len(o.addHosts) > 0}, {"--ulimit", len(o.ulimits) > 0},
		{"--tmpfs", len(o.tmpfs) > 0}, {"--mount", len(o.mounts) > 0}, {"--stop-signal", o.stopSignal != ""},
		{"--stop-timeout", o.stopTimeout != 0}, {"--group-add", len(o.groupAdd) > 0}, {"--health-*", o.health.set()},
		{"--log-opt", len(o.logOpts) > 0}, {"--publish-all", o.publishAll},
		{"--shm-size", o.shmSize != ""},
	} {
		if f.set {
			set = append(set, f.name)
		}
	}
	return set
}

// check refuses what no pod can do, pod file or not.
func (o *runFlags) check() error {
	if len(o.devices) > 0 {
		return errdefs.InvalidArgument("a VM has no host devices; --device is not supported")
	}
	if o.gpus != "" {
		return errdefs.InvalidArgument("a VM has no host devices; --gpus is not supported")
	}
	for _, ns := range []string{"pid", "ipc", "uts", "userns", "cgroupns"} {
		if v := o.namespaces[ns]; v != nil && *v != "" {
			return errdefs.InvalidArgument("--%s %s: a pod's VM has its own namespaces, shared by its containers: put containers that share them in one pod (hyperctl create -c POD)", ns, *v)
		}
	}
	switch o.logDriver {
	case "", "json-file", "local":
	default:
		return errdefs.InvalidArgument("--log-driver %s: hyperd keeps each pod's output in its own log files; only json-file and local (the same) are supported", o.logDriver)
	}
	if o.cidfile != "" {
		if _, err := os.Stat(o.cidfile); err == nil {
			return errdefs.InvalidArgument("container ID file found, make sure the other container isn't running or delete %s", o.cidfile)
		}
	}
	return nil
}

// apply puts the flags into spec (one container, built from flags) and
// returns the volumes of --tmpfs and --mount for addVolumeFlags.
func (o *runFlags) apply(spec *types.PodSpec, rm bool) ([]volumeMount, error) {
	c := &spec.Containers[0]
	policy, err := parseRestart(o.restart)
	if err != nil {
		return nil, err
	}
	if rm && policy != "" && policy != types.RestartPolicyNever {
		return nil, errdefs.InvalidArgument("conflicting options: --restart %s and --rm", o.restart)
	}
	spec.RestartPolicy, spec.PublishAll = policy, o.publishAll
	for _, h := range o.addHosts {
		a, err := parseAddHost(h)
		if err != nil {
			return nil, err
		}
		spec.HostAliases = append(spec.HostAliases, a)
	}
	for _, u := range o.ulimits {
		l, err := parseUlimit(u)
		if err != nil {
			return nil, err
		}
		c.Ulimits = append(c.Ulimits, l)
	}
	if o.stopTimeout < 0 {
		return nil, errdefs.InvalidArgument("--stop-timeout %d: want 0 or more seconds", o.stopTimeout)
	}
	c.StopSignal, spec.StopTimeout = o.stopSignal, o.stopTimeout
	c.AdditionalGroups = o.groupAdd
	if c.Healthcheck, err = o.health.config(); err != nil {
		return nil, err
	}
	if spec.Log, err = parseLogOpts(o.logOpts); err != nil {
		return nil, err
	}
	if o.shmSize != "" {
		if c.ShmSizeMB, err = parseMemoryMB(o.shmSize); err != nil {
			return nil, errdefs.InvalidArgument("--shm-size: %w", err)
		}
	}
	var vms []volumeMount
	for _, t := range o.tmpfs {
		vm, err := parseTmpfs(t)
		if err != nil {
			return nil, err
		}
		vms = append(vms, vm)
	}
	for _, m := range o.mounts {
		vm, err := parseMount(m)
		if err != nil {
			return nil, err
		}
		vms = append(vms, vm)
	}
	return vms, nil
}

// writeCID writes --cidfile once the pod exists.
func (o *runFlags) writeCID(id string) error {
	if o.cidfile == "" {
		return nil
	}
	f, err := os.OpenFile(o.cidfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing the container ID file: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the container ID file: %w", err)
	}
	return nil
}

// dockerPolicies are docker's restart policies as the pod's.
var dockerPolicies = map[string]string{
	"no": types.RestartPolicyNever, "always": types.RestartPolicyAlways,
	"unless-stopped": types.RestartPolicyUnlessStopped, "on-failure": types.RestartPolicyOnFailure,
}

// parseRestart maps docker's restart policy to the pod's ("" stays "").
func parseRestart(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	name, n, hasN := strings.Cut(s, ":")
	policy, ok := dockerPolicies[name]
	if !ok {
		return "", errdefs.InvalidArgument("invalid restart policy %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if !hasN {
		return policy, nil
	}
	if max, err := strconv.Atoi(n); policy != types.RestartPolicyOnFailure || err != nil || max < 0 {
		return "", errdefs.InvalidArgument("invalid restart policy %q: only on-failure takes a retry count, on-failure:N with N >= 0", s)
	}
	return policy + ":" + n, nil
}

// parseAddHost parses NAME:IP (or docker's newer NAME=IP).
func parseAddHost(s string) (types.HostAlias, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if !ok || name == "" || ip == "" {
		return types.HostAlias{}, errdefs.InvalidArgument("invalid --add-host %q: want NAME:IP", s)
	}
	if ip != types.HostGateway {
		if _, err := netip.ParseAddr(ip); err != nil {
			return types.HostAlias{}, errdefs.InvalidArgument("invalid --add-host %q: %q is not an IP address or %s", s, ip, types.HostGateway)
		}
	}
	return types.HostAlias{IP: ip, Hostnames: []string{name}}, nil
}

// ulimitNames are docker's --ulimit names.
var ulimitNames = map[string]bool{"core": true, "cpu": true, "data": true, "fsize": true, "locks": true, "memlock": true,
	"msgqueue": true, "nice": true, "nofile": true, "nproc": true, "rss": true, "rtprio": true, "rttime": true,
	"sigpending": true, "stack": true}

// parseUlimit parses docker's NAME=SOFT[:HARD].
func parseUlimit(s string) (types.Ulimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || !ulimitNames[name] {
		return types.Ulimit{}, errdefs.InvalidArgument("invalid --ulimit %q: want NAME=SOFT[:HARD], NAME one of core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack", s)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	if !hasHard {
		hardS = softS
	}
	soft, err1 := strconv.ParseInt(softS, 10, 64)
	hard, err2 := strconv.ParseInt(hardS, 10, 64)
	if err1 != nil || err2 != nil || soft < 0 || hard < 0 {
		return types.Ulimit{}, errdefs.InvalidArgument("invalid --ulimit %q: limits are integers of 0 or more", s)
	}
	if soft > hard {
		return types.Ulimit{}, errdefs.InvalidArgument("invalid --ulimit %q: the soft limit %d is above the hard limit %d", s, soft, hard)
	}
	return types.Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

// parseTmpfs parses --tmpfs /path[:OPTIONS]: a memory emptyDir.
func parseTmpfs(s string) (volumeMount, error) {
	dst, opts, _ := strings.Cut(s, ":")
	vm := volumeMount{v: types.Volume{EmptyDir: &types.EmptyDirVolumeSource{Medium: "Memory"}}, m: types.VolumeMount{MountPath: dst}}
	if !path.IsAbs(dst) {
		return vm, errdefs.InvalidArgument("invalid --tmpfs %q: the path must be absolute", s)
	}
	if opts == "" {
		return vm, nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		if err := tmpfsOption(&vm, k, v); err != nil {
			return vm, errdefs.InvalidArgument("invalid --tmpfs %q: %w", s, err)
		}
	}
	return vm, nil
}

// tmpfsOption applies one tmpfs option: those the guest honours.
func tmpfsOption(vm *volumeMount, k, v string) error {
	switch k {
	case "size":
		mb, err := parseMemoryMB(v)
		if err != nil {
			return fmt.Errorf("size: %w", err)
		}
		vm.v.EmptyDir.SizeLimitMB = mb
	case "mode":
		if v != "1777" {
			return fmt.Errorf("mode=%s: a pod's tmpfs is mode 1777", v)
		}
	case "ro":
		vm.m.ReadOnly = true
	case "rw":
		vm.m.ReadOnly = false
	default:
		return fmt.Errorf("option %q is not supported (size=, mode=1777, ro, rw are)", k)
	}
	return nil
}

// parseMount parses docker's --mount CSV: type=bind|volume|tmpfs,
// source=, target=, readonly[=bool], tmpfs-size=, tmpfs-mode=.
func parseMount(s string) (volumeMount, error) {
	bad := func(format string, args ...any) (volumeMount, error) {
		return volumeMount{}, errdefs.InvalidArgument("invalid --mount %q: %s", s, fmt.Sprintf(format, args...))
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return bad("%v", err)
	}
	typ, src := "volume", ""
	var m types.VolumeMount
	var size, mode string
	for _, f := range fields {
		k, v, hasV := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "type":
			typ = v
		case "source", "src":
			src = v
		case "target", "destination", "dst":
			m.MountPath = v
		case "readonly", "ro":
			if !hasV {
				m.ReadOnly = true
				break
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("readonly=%s: want true or false", v)
			}
			m.ReadOnly = b
		case "tmpfs-size":
			size = v
		case "tmpfs-mode":
			mode = v
		default:
			return bad("unknown key %q (type, source, target, readonly, tmpfs-size, tmpfs-mode are supported)", k)
		}
	}
	if !path.IsAbs(m.MountPath) {
		return bad("target must be an absolute path")
	}
	if (size != "" || mode != "") && typ != "tmpfs" {
		return bad("tmpfs-size and tmpfs-mode are for type=tmpfs")
	}
	vm := volumeMount{m: m}
	switch typ {
	case "bind":
		if !path.IsAbs(src) {
			return bad("a bind mount's source must be an absolute host path")
		}
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			return bad("bind source path does not exist: %s", src)
		}
		vm.v = types.Volume{HostPath: &types.HostPathVolumeSource{Path: src}}
	case "volume":
		switch {
		case src == "":
			vm.v = types.Volume{EmptyDir: &types.EmptyDirVolumeSource{}}
		case volumeName.MatchString(src):
			vm.v = types.Volume{Named: &types.NamedVolumeSource{Name: src}}
		default:
			return bad("volume name %q: want [a-zA-Z0-9][a-zA-Z0-9_.-]*", src)
		}
	case "tmpfs":
		if src != "" {
			return bad("a tmpfs mount takes no source")
		}
		vm.v = types.Volume{EmptyDir: &types.EmptyDirVolumeSource{Medium: "Memory"}}
		if size != "" {
			if strings.Trim(size, "0123456789") == "" {
				size += "b" // docker's tmpfs-size is in bytes
			}
			if err := tmpfsOption(&vm, "size", size); err != nil {
				return bad("tmpfs-size: %v", err)
			}
		}
		if mode != "" {
			if err := tmpfsOption(&vm, "mode", strings.TrimPrefix(mode, "0")); err != nil {
				return bad("%v", err)
			}
		}
	default:
		return bad("type %q: want bind, volume or tmpfs", typ)
	}
	return vm, nil
}

// parseLogOpts parses --log-opt max-size= and max-file= (json-file's).
func parseLogOpts(opts []string) (*types.LogConfig, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	var l types.LogConfig
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "max-size":
			n, err := parseBytes(v)
			if err != nil {
				return nil, errdefs.InvalidArgument("--log-opt max-size: %w", err)
			}
			l.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, errdefs.InvalidArgument("--log-opt max-file=%s: want a count of 1 or more", v)
			}
			l.MaxFiles = n
		default:
			return nil, errdefs.InvalidArgument("--log-opt %q: only max-size and max-file are supported", o)
		}
	}
	return &l, nil
}

// parseBytes parses a size with docker's units (a bare number is bytes).
func parseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := len(t) - len(strings.TrimLeft(t, "0123456789"))
	n, err := strconv.ParseInt(t[:i], 10, 64)
	mult, ok := sizeUnits[t[i:]]
	if t[i:] == "" {
		mult, ok = 1, true
	}
	if err != nil || !ok || n <= 0 || float64(n)*mult > 1<<50 {
		return 0, fmt.Errorf("invalid size %q: want a positive whole number with an optional unit (k, m, g)", s)
	}
	return int64(float64(n) * mult), nil
}
