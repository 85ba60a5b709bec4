package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/podspec"
)

// runOptions are run's flags.
type runOptions struct {
	detach      bool
	interactive bool
	tty         bool
	rm          bool
	sigProxy    bool
	name        string
	hostname    string
	workdir     string
	user        string
	entrypoint  string
	entrySet    bool // --entrypoint given, even ""
	env         []string
	envFiles    []string
	labels      []string
	cpus        float64
	memory      string
	pull        string   // missing, always, never
	podFile     string   // -p: a Hyper pod file or a Kubernetes Pod manifest
	publish     []string // -p/--publish port specs
	volumes     []string // -v SRC:DST[:ro]
	network     string
	dns         []string
	dnsSearch   []string
	dnsOptions  []string
	security    securityOptions
	more        runFlags // runflags.go
}

func addRunFlags(cmd *cobra.Command, o *runOptions) {
	f := cmd.Flags()
	f.SetInterspersed(false) // flags stop at IMAGE: the rest is the command
	f.BoolVarP(&o.detach, "detach", "d", false, "run in the background and print the pod ID")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open and forward it")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a terminal")
	f.BoolVar(&o.rm, "rm", false, "remove the pod when it exits")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "forward received signals to the pod")
	f.StringVar(&o.name, "name", "", "name the pod")
	f.StringVar(&o.hostname, "hostname", "", "the pod's hostname")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "user (name|uid[:group|gid])")
	f.StringVar(&o.entrypoint, "entrypoint", "", "override the image's entrypoint (\"\" clears it)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass hyperctl's)")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "read environment variables from a file")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "set a label (key=value)")
	f.Float64Var(&o.cpus, "cpus", 0, "number of virtual CPUs (default 1)")
	f.StringVarP(&o.memory, "memory", "m", "", "memory of the VM: 512m, 1g (a bare number is MB; default 256m)")
	f.StringVar(&o.pull, "pull", "missing", "pull the image before creating: missing (when not in the store), always, never")
	f.StringVar(&o.podFile, "pod", "", "the pod described by FILE: a Hyper pod file or a Kubernetes Pod manifest (JSON or YAML)")
	f.VarP(publishOrPod{o}, "publish", "p", "publish ports: [HOSTIP:]HOSTPORT[-END]:CONTAINERPORT[-END][/tcp|udp]; -p FILE (not a port spec) is --pod FILE")
	addNetworkFlags(cmd, o)
	addSecurityFlags(f, &o.security)
	addRunFlagsMore(f, &o.more)
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "mount a volume: /host/path:/path[:ro], NAME:/path[:ro] (a named volume, created on first use), or /path (a new empty volume)")
}

// fileSpec reads a pod file; --name, --rm and --hostname override it.
func (o *runOptions) fileSpec(h *cli) (types.PodSpec, error) {
	if len(o.volumes) > 0 {
		return types.PodSpec{}, errdefs.InvalidArgument("-v and a pod file: declare the volumes in the pod file")
	}
	if o.security.set() {
		return types.PodSpec{}, errdefs.InvalidArgument("--cap-add, --cap-drop, --privileged, --security-opt, --read-only and a pod file: declare them in the pod file")
	}
	if set := o.more.setInFile(); len(set) > 0 {
		return types.PodSpec{}, errdefs.InvalidArgument("%s and a pod file: declare them in the pod file", strings.Join(set, ", "))
	}
	data, err := os.ReadFile(o.podFile)
	if err != nil {
		return types.PodSpec{}, errdefs.InvalidArgument("reading pod file: %w", err)
	}
	res, err := podspec.Parse(data, o.podFile)
	if err != nil {
		return types.PodSpec{}, errdefs.InvalidArgument("%w", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(h.streams.Err, "WARNING: %s\n", w)
	}
	spec := res.Spec
	if o.name != "" {
		spec.Name = o.name
	}
	if o.hostname != "" {
		spec.Hostname = o.hostname
	}
	spec.AutoRemove = spec.AutoRemove || o.rm
	if len(spec.Containers) > 0 {
		o.tty = o.tty || spec.Containers[0].Tty
	}
	return spec, nil
}

// podSpec builds the pod from run's flags, IMAGE and CMD.
func (o *runOptions) podSpec(image string, args []string) (types.PodSpec, error) {
	env, err := o.environment()
	if err != nil {
		return types.PodSpec{}, err
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return types.PodSpec{}, err
	}
	c := types.ContainerSpec{
		Image:      image,
		Env:        env,
		WorkingDir: o.workdir,
		User:       o.user,
		Tty:        o.tty,
		OpenStdin:  o.interactive,
	}
	if len(args) > 0 {
		c.Cmd = args
	}
	if err := o.security.apply(&c); err != nil {
		return types.PodSpec{}, err
	}
	if o.entrySet {
		c.Entrypoint = []string{} // "" clears the image's
		if o.entrypoint != "" {
			c.Entrypoint = []string{o.entrypoint}
		}
	}
	spec := types.PodSpec{
		Name:       o.name,
		Hostname:   o.hostname,
		Containers: []types.ContainerSpec{c},
		Labels:     labels,
		AutoRemove: o.rm,
	}
	more, err := o.more.apply(&spec, o.rm)
	if err != nil {
		return spec, err
	}
	if err := addVolumeFlags(&spec, o.volumes, more); err != nil {
		return spec, err
	}
	if o.cpus < 0 || o.cpus > 1024 {
		return spec, fmt.Errorf("invalid --cpus %v: want 1 or more", o.cpus)
	}
	spec.VCPUs = int(math.Ceil(o.cpus))
	if o.memory != "" {
		if spec.MemoryMB, err = parseMemoryMB(o.memory); err != nil {
			return spec, fmt.Errorf("--memory: %w", err)
		}
	}
	return spec, nil
}

// environment is --env-file's variables, then -e's (later ones win in
// the guest, as in docker).
func (o *runOptions) environment() ([]string, error) {
	var env []string
	for _, f := range o.envFiles {
		vars, err := parseEnvFile(f)
		if err != nil {
			return nil, err
		}
		env = append(env, vars...)
	}
	vars, err := expandEnv(o.env, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return append(env, vars...), nil
}

func newRunCommand(h *cli) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Run a command in a new pod",
		Long: `Run a command in a new pod (a light VM running IMAGE).

In the foreground, hyperctl attaches before it starts the pod, so no output
is lost, and exits with the command's own exit status (125 if hyperctl or
hyperd failed). Flags after IMAGE belong to the command.`,
		Args: imageOrPodFile(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.entrySet = cmd.Flags().Changed("entrypoint")
			return withStatus(ExitDaemonError, h.run(cmd.Context(), o, args))
		},
	}
	addRunFlags(cmd, o)
	return cmd
}

// imageOrPodFile wants IMAGE, unless -p names a pod file.
func imageOrPodFile(o *runOptions) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if o.podFile != "" {
			if len(args) > 0 {
				return errdefs.InvalidArgument("-p FILE describes the whole pod: no IMAGE or COMMAND after it")
			}
			return nil
		}
		return minArgs(1)(cmd, args)
	}
}

func newCreateCommand(h *cli) *cobra.Command {
	o := &runOptions{}
	var pod string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...] | create -p FILE | create -c POD [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a pod without starting it, or add a container to a pod (-c); prints its ID",
		Args:  imageOrPodFile(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.entrySet = cmd.Flags().Changed("entrypoint")
			if pod != "" {
				return withStatus(ExitDaemonError, h.addContainer(cmd.Context(), cmd, o, pod, args))
			}
			spec, images, err := h.specFor(o, args)
			if err != nil {
				return withStatus(ExitDaemonError, err)
			}
			created, err := h.create(cmd.Context(), o, spec, images)
			if err != nil {
				return withStatus(ExitDaemonError, err)
			}
			fmt.Fprintln(h.streams.Out, created.ID)
			return nil
		},
	}
	addRunFlags(cmd, o)
	addContainerFlag(cmd, &pod)
	return cmd
}

// specFor builds the pod spec from -p FILE or from IMAGE [CMD...], and
// lists its images.
func (h *cli) specFor(o *runOptions, args []string) (types.PodSpec, []string, error) {
	var spec types.PodSpec
	if err := o.more.check(); err != nil {
		return spec, nil, err
	}
	var err error
	if o.podFile != "" {
		spec, err = o.fileSpec(h)
	} else {
		spec, err = o.podSpec(args[0], args[1:])
	}
	if err == nil {
		err = o.applyNetwork(&spec)
	}
	if err != nil {
		return spec, nil, err
	}
	var images []string
	for _, c := range append(append([]types.ContainerSpec(nil), spec.InitContainers...), spec.Containers...) {
		images = append(images, c.Image)
	}
	return spec, images, nil
}

// create creates the pod, pulling its images as --pull says.
func (h *cli) create(ctx context.Context, o *runOptions, spec types.PodSpec, images []string) (types.CreateResponse, error) {
	switch o.pull {
	case "", "missing", "always", "never":
	default:
		return types.CreateResponse{}, errdefs.InvalidArgument("--pull %q: want missing, always or never", o.pull)
	}
	c, err := h.client()
	if err != nil {
		return types.CreateResponse{}, err
	}
	created, err := h.pulling(ctx, c, o, images, func() (types.CreateResponse, error) { return c.CreatePod(ctx, spec) })
	if err == nil {
		err = o.more.writeCID(created.ID)
	}
	return created, err
}

// pulling runs create, pulling images first as --pull says.
func (h *cli) pulling(ctx context.Context, c *client.Client, o *runOptions, images []string, create func() (types.CreateResponse, error)) (types.CreateResponse, error) {
	if o.pull == "always" {
		for _, image := range images {
			if err := h.pullForRun(ctx, c, image); err != nil {
				return types.CreateResponse{}, err
			}
		}
	}
	created, err := create()
	if err != nil && (o.pull == "" || o.pull == "missing") && errors.Is(err, errdefs.ErrNotFound) {
		// An image is not in the store (the only thing creating looks
		// up): pull the images, then create again.
		for _, image := range images {
			fmt.Fprintf(h.streams.Err, "Unable to find image '%s' locally\n", image)
			if err := h.pullForRun(ctx, c, image); err != nil {
				return types.CreateResponse{}, err
			}
		}
		created, err = create()
	}
	if err != nil {
		return types.CreateResponse{}, err
	}
	for _, w := range created.Warnings {
		fmt.Fprintf(h.streams.Err, "WARNING: %s\n", w)
	}
	return created, nil
}

func (h *cli) run(ctx context.Context, o *runOptions, args []string) error {
	spec, images, err := h.specFor(o, args)
	if err != nil {
		return err
	}
	if o.tty && o.interactive && !o.detach && !isTerminal(h.streams.In) {
		return errors.New("the input device is not a TTY; drop -t to pipe input")
	}
	created, err := h.create(ctx, o, spec, images)
	if err != nil {
		return err
	}
	c, err := h.client()
	if err != nil {
		return err
	}
	if o.detach {
		if err := c.StartPod(ctx, created.ID); err != nil {
			if o.rm {
				h.removeQuietly(c, created.ID)
			}
			return err
		}
		fmt.Fprintln(h.streams.Out, created.ID)
		return nil
	}
	code, err := h.runSession(ctx, c, session{
		pod:      created.ID,
		stdin:    o.interactive,
		tty:      o.tty,
		start:    true,
		sigProxy: o.sigProxy,
		beforeStartFailed: func() {
			if o.rm {
				h.removeQuietly(c, created.ID)
			}
		},
	})
	if err != nil {
		return err
	}
	return exitStatus(code)
}

// removeQuietly removes a pod that failed to start under --rm.
func (h *cli) removeQuietly(c *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.RemovePod(ctx, id, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		h.log.Debug("removing pod after failed start", "pod", id, "err", err)
	}
}

// exitStatus ends hyperctl with a process's exit status.
func exitStatus(code int) error {
	if code == 0 {
		return nil
	}
	if code < 0 || code > 255 {
		code = ExitDaemonError
	}
	return &StatusError{Code: code}
}

func newStartCommand(h *cli) *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] POD [POD...]",
		Short: "Start one or more pods",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := h.client()
			if err != nil {
				return err
			}
			if !attach && !interactive {
				return h.forEach(args, func(id string) error { return c.StartPod(ctx, id) })
			}
			if len(args) > 1 {
				return usageErrorf(cmd, "you cannot attach to several pods at once")
			}
			return withStatus(ExitDaemonError, h.startAttached(ctx, c, args[0], interactive))
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach stdout/stderr and exit with the pod's status")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach stdin too")
	return cmd
}

func (h *cli) startAttached(ctx context.Context, c *client.Client, id string, stdin bool) error {
	pod, err := c.GetPod(ctx, id)
	if err != nil {
		return err
	}
	if pod.State == types.StateRunning {
		return errdefs.Conflict("pod %s is already running", id)
	}
	tty := len(pod.Spec.Containers) > 0 && pod.Spec.Containers[0].Tty
	if tty && stdin && !isTerminal(h.streams.In) {
		return errors.New("the input device is not a TTY")
	}
	code, err := h.runSession(ctx, c, session{
		pod:            pod.ID,
		stdin:          stdin,
		tty:            tty,
		start:          true,
		waitAfterStart: pod.State != types.StateCreated,
		sigProxy:       true,
	})
	if err != nil {
		return err
	}
	return exitStatus(code)
}

func newAttachCommand(h *cli) *cobra.Command {
	var noStdin, sigProxy bool
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] POD|CONTAINER|POD/CONTAINER",
		Short: "Attach to a running pod's main process (or one container's)",
		Long:  "Attach to a running pod's main process (or one container's).\n\n" + refHelp,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := h.client()
			if err != nil {
				return withStatus(ExitDaemonError, err)
			}
			pod, spec, err := h.resolveContainer(ctx, c, args[0], "")
			if err != nil {
				return withStatus(ExitDaemonError, err)
			}
			if pod.State != types.StateRunning {
				return withStatus(ExitDaemonError, fmt.Errorf("pod %s is %s: you cannot attach to a pod that is not running, start it first", args[0], pod.State))
			}
			stdin := spec.OpenStdin && !noStdin
			if spec.Tty && stdin && !isTerminal(h.streams.In) {
				return withStatus(ExitDaemonError, errors.New("the input device is not a TTY"))
			}
			code, err := h.runSession(ctx, c, session{pod: pod.ID, container: spec.Name, stdin: stdin, tty: spec.Tty, sigProxy: sigProxy,
				ctrExit: len(pod.Spec.Containers) > 0 && spec.Name != pod.Spec.Containers[0].Name})
			if err != nil {
				return withStatus(ExitDaemonError, err)
			}
			return exitStatus(code)
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach stdin")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "forward received signals to the pod")
	return cmd
}
