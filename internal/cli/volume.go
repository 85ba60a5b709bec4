package cli

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func newVolumeCommand(h *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage named volumes",
		Long: `Manage the named volumes hyperd keeps: sparse ext4 disk images, attached to
the pods that mount them (run -v NAME:/path), kept until removed here.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newVolumeCreateCommand(h), newVolumeLsCommand(h), newVolumeInspectCommand(h), newVolumeRmCommand(h))
	return cmd
}

func newVolumeCreateCommand(h *cli) *cobra.Command {
	var size string
	var labels []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NAME",
		Short: "Create a volume; prints its name",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := types.VolumeCreateRequest{Name: args[0]}
			var err error
			if size != "" {
				if req.SizeMB, err = parseMemoryMB(size); err != nil {
					return usageErrorf(cmd, "--size: %v", err)
				}
			}
			if req.Labels, err = parseLabels(labels); err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			vi, err := c.CreateVolume(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(h.streams.Out, vi.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&size, "size", "", "size of the volume's disk: 512m, 20g (default 10g; sparse: space is taken as it is written)")
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label (key=value)")
	return cmd
}

func newVolumeLsCommand(h *cli) *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Long: `List the named volumes.

--format json prints one JSON object (the API's VolumeInfo) per line; any
other --format is a Go template applied to each ({{.Name}}, {{.SizeMB}},
{{.UsedBy}}, ...).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			vols, err := c.ListVolumes(cmd.Context())
			if err != nil {
				return err
			}
			out := h.streams.Out
			switch {
			case quiet:
				for _, v := range vols {
					fmt.Fprintln(out, v.Name)
				}
			case f.table():
				tw := newTable(out)
				fmt.Fprintln(tw, "DRIVER\tVOLUME NAME\tSIZE\tUSED BY")
				for _, v := range vols {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Driver, v.Name, humanSize(int64(v.SizeMB)<<20), strings.Join(v.UsedBy, ","))
				}
				return tw.Flush()
			default:
				return writeLines(f, out, vols)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print volume names")
	cmd.Flags().StringVar(&format, "format", "", "json, or a Go template")
	return cmd
}

func newVolumeInspectCommand(h *cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Show volumes as JSON",
		Long: `Show volumes as a JSON array (the API's VolumeInfo); any --format other than
json is a Go template applied to each.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			var found []any
			failed := 0
			for _, a := range args {
				vi, err := c.InspectVolume(cmd.Context(), a)
				if err != nil {
					fmt.Fprintf(h.streams.Err, "hyperctl: %v\n", err)
					failed++
					continue
				}
				found = append(found, vi)
			}
			return f.inspected(h.streams.Out, found, failed)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "json (default), or a Go template")
	return cmd
}

func newVolumeRmCommand(h *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "rm VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes and their data; a volume a pod uses is kept",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.forEach(args, func(name string) error { return c.RemoveVolume(cmd.Context(), name) })
		},
	}
}

// inspected prints what inspect found: a JSON array, or the template per
// object; failed lookups (already reported) fail the command.
func (f *formatter) inspected(w io.Writer, found []any, failed int) error {
	if f.tmpl != nil {
		if err := writeLines(f, w, found); err != nil {
			return err
		}
	} else {
		if found == nil {
			found = []any{}
		}
		if err := writeJSONIndent(w, found); err != nil {
			return err
		}
	}
	if failed > 0 {
		return &StatusError{Code: ExitError}
	}
	return nil
}

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// addVolumeFlags adds run's -v flags to spec: SRC:DST[:ro|rw], SRC an
// absolute host path (a host path volume) or a volume name (a named
// volume, created on first use); a lone absolute DST is a new empty
// volume of the pod. Each source becomes one pod volume.
func addVolumeFlags(spec *types.PodSpec, flags []string, more []volumeMount) error {
	var vms []volumeMount
	for _, f := range flags {
		v, m, err := parseVolumeFlag(f)
		if err != nil {
			return err
		}
		vms = append(vms, volumeMount{v, m})
	}
	addVolumes(spec, append(vms, more...))
	return nil
}

// volumeMount is a pod volume (not named yet) and its mount in the
// container: a -v, --mount or --tmpfs flag.
type volumeMount struct {
	v types.Volume
	m types.VolumeMount
}

// addVolumes adds the volumes to spec and their mounts to its container;
// mounts of the same host path or named volume share one pod volume.
func addVolumes(spec *types.PodSpec, vms []volumeMount) {
	byKey := map[string]string{} // source -> pod volume name
	c := &spec.Containers[0]
	for _, vm := range vms {
		v, m := vm.v, vm.m
		key := ""
		switch {
		case v.HostPath != nil:
			key = "host:" + v.HostPath.Path
		case v.Named != nil:
			key = "named:" + v.Named.Name
		}
		name, ok := byKey[key]
		if !ok || key == "" {
			name = fmt.Sprintf("volume-%d", len(spec.Volumes))
			v.Name = name
			spec.Volumes = append(spec.Volumes, v)
			if key != "" {
				byKey[key] = name
			}
		}
		m.Name = name
		c.VolumeMounts = append(c.VolumeMounts, m)
	}
}

// parseVolumeFlag parses one -v value; the volume has no name yet.
func parseVolumeFlag(s string) (types.Volume, types.VolumeMount, error) {
	parts := strings.Split(s, ":")
	bad := func(why string) (types.Volume, types.VolumeMount, error) {
		return types.Volume{}, types.VolumeMount{}, errdefs.InvalidArgument("invalid volume %q: %s", s, why)
	}
	var src, dst, mode string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, mode = parts[0], parts[1], parts[2]
	default:
		return bad("want SRC:DST[:ro|rw]")
	}
	if !path.IsAbs(dst) {
		return bad("the container path must be absolute")
	}
	m := types.VolumeMount{MountPath: dst}
	switch mode {
	case "", "rw":
	case "ro":
		m.ReadOnly = true
	default:
		return bad("mode " + mode + ": want ro or rw")
	}
	switch {
	case len(parts) == 1:
		return types.Volume{EmptyDir: &types.EmptyDirVolumeSource{}}, m, nil
	case path.IsAbs(src):
		return types.Volume{HostPath: &types.HostPathVolumeSource{Path: src}}, m, nil
	case volumeName.MatchString(src):
		return types.Volume{Named: &types.NamedVolumeSource{Name: src}}, m, nil
	case src == "":
		return bad("empty source")
	}
	return bad(fmt.Sprintf("source %q is neither an absolute host path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", src))
}
