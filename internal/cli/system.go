package cli

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
)

func newInfoCommand(h *cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Show hyperd's system information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			info, err := c.Info(cmd.Context())
			if err != nil {
				return err
			}
			return f.object(h.streams.Out, info, func() error { return writeInfo(h, info) })
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json, or a Go template")
	return cmd
}

func writeInfo(h *cli, i types.Info) error {
	tw := tabwriter.NewWriter(h.streams.Out, 0, 1, 1, ' ', 0)
	hv := i.Hypervisor
	if i.HypervisorVersion != "" {
		hv += " " + i.HypervisorVersion
	}
	fmt.Fprintf(tw, "Server Version:\t%s\n", i.Version)
	fmt.Fprintf(tw, "Hypervisor:\t%s\n", hv)
	fmt.Fprintf(tw, "Acceleration:\t%s\n", i.Accel)
	if i.AccelReason != "" {
		fmt.Fprintf(tw, " Reason:\t%s\n", i.AccelReason)
	}
	writeIsolation(tw, i)
	fmt.Fprintf(tw, "Kernel:\t%s\n", i.Kernel)
	fmt.Fprintf(tw, "Initrd:\t%s\n", i.Initrd)
	fmt.Fprintf(tw, "Root Dir:\t%s\n", i.Root)
	fmt.Fprintf(tw, "Pods:\t%d\n", i.Pods)
	fmt.Fprintf(tw, " Running:\t%d\n", i.PodsRunning)
	fmt.Fprintf(tw, " Not running:\t%d\n", i.Pods-i.PodsRunning)
	fmt.Fprintf(tw, "Images:\t%d\n", i.Images)
	if i.Bridge.Name != "" {
		fmt.Fprintf(tw, "Bridge:\t%s %s\n", i.Bridge.Name, i.Bridge.Subnet)
		fmt.Fprintf(tw, " Leased addresses:\t%d\n", len(i.Bridge.Leases))
	}
	return tw.Flush()
}

// writeIsolation says what isolates pods, and how the API is guarded.
func writeIsolation(w io.Writer, i types.Info) {
	if iso := i.Isolation; iso.Mechanism != "" {
		boundary := "a security boundary"
		if !iso.SecurityBoundary {
			boundary = "NOT a security boundary"
		}
		fmt.Fprintf(w, "Isolation:\t%s (%s)\n", iso.Mechanism, boundary)
		if iso.Note != "" {
			fmt.Fprintf(w, " Note:\t%s\n", iso.Note)
		}
	}
	label := "API:"
	for _, l := range i.API {
		fmt.Fprintf(w, "%s\t%s (%s)\n", label, l.Host, l.Security)
		label = ""
	}
}

func newVersionCommand(h *cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show hyperctl's and hyperd's versions",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				return usageErrorf(cmd, "invalid --format %q: want json", format)
			}
			cv := types.Version{
				Version:    clientVersion(),
				APIVersion: types.APIVersion,
				GoVersion:  runtime.Version(),
				Os:         runtime.GOOS,
				Arch:       runtime.GOARCH,
			}
			var sv *types.Version
			c, err := h.client()
			if err == nil {
				var v types.Version
				if v, err = c.Version(cmd.Context()); err == nil {
					sv = &v
				}
			}
			if format == "json" {
				if werr := writeJSONIndent(h.streams.Out, struct {
					Client types.Version  `json:"client"`
					Server *types.Version `json:"server"`
				}{cv, sv}); werr != nil {
					return werr
				}
				return err
			}
			writeVersion(h, "Client", cv)
			if sv != nil {
				fmt.Fprintln(h.streams.Out)
				writeVersion(h, "Server", *sv)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json")
	return cmd
}

func writeVersion(h *cli, title string, v types.Version) {
	tw := tabwriter.NewWriter(h.streams.Out, 0, 1, 1, ' ', 0)
	fmt.Fprintf(tw, "%s:\n", title)
	fmt.Fprintf(tw, " Version:\t%s\n", v.Version)
	fmt.Fprintf(tw, " API version:\t%s\n", v.APIVersion)
	fmt.Fprintf(tw, " Go version:\t%s\n", v.GoVersion)
	fmt.Fprintf(tw, " OS/Arch:\t%s/%s\n", v.Os, v.Arch)
	tw.Flush()
}
