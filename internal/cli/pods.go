package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func newPsCommand(h *cli) *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var format string
	var filters []string
	last := -1
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List pods",
		Long: `List pods: running ones, or all with -a.

--format json prints one JSON object per line with docker's keys; any other
--format is a Go template applied to each pod, with docker's fields
(.ID .Names .Image .Command .CreatedAt .RunningFor .Status .State .Ports
.Labels .Networks, .Label "KEY") over the API's Pod (.Spec, .VM, ...);
"table " before the template aligns its tab-separated columns under a
header: --format 'table {{.ID}}\t{{.Names}}\t{{.Status}}'.

--filter KEY=VALUE (status=, name=, label=KEY[=VALUE], ancestor=IMAGE,
id=PREFIX) keeps matching pods: values of one key match if any does,
different keys must all match; a status filter, -n and -l look at every
pod. -s shows SIZE as N/A: a pod's writable layers live on its scratch
disk inside the VM, not measured from the host.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := parsePsFilter(filters)
			if err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			if latest {
				last = 1
			}
			if size && format == "" && !quiet {
				format = psSizeTable
			}
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			pods, err := c.ListPods(cmd.Context(), all || pf.needsAll() || last >= 0)
			if err != nil {
				return err
			}
			sortPods(pods)
			pods = selectPods(pods, pf, last)
			out := h.streams.Out
			switch {
			case quiet:
				for _, p := range pods {
					fmt.Fprintln(out, displayID(p.ID, noTrunc))
				}
				return nil
			case f.table():
				return writePods(out, pods, noTrunc, time.Now())
			}
			now := time.Now()
			rows := make([]psRow, len(pods))
			for i, p := range pods {
				rows[i] = newPsRow(p, noTrunc, now)
			}
			return writeRows(f, out, rows, psHeaders)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "show all pods (default: running ones)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "only print pod IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs and commands")
	fl.StringVar(&format, "format", "", "json, or a Go template")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "filter: status=, name=, label=, ancestor=, id=")
	fl.IntVarP(&last, "last", "n", -1, "show the last N created pods, of every state")
	fl.BoolVarP(&latest, "latest", "l", false, "show the latest created pod, of every state")
	fl.BoolVarP(&size, "size", "s", false, "show a SIZE column (N/A: see above)")
	return cmd
}

func newLogsCommand(h *cli) *cobra.Command {
	var o types.LogOptions
	var tail, since string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] POD|CONTAINER|POD/CONTAINER",
		Short: "Print a pod's output",
		Long: `Print a pod's stored output: its stdout to stdout and its stderr to stderr.

--since takes a duration back from now (10m, 1h30m), an RFC 3339 time, or
unix seconds.

` + refHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Tail, err = parseTail(tail); err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			if o.Since, err = parseSince(since, time.Now()); err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			return c.Logs(cmd.Context(), args[0], o, func(e types.LogEntry) error {
				return writeLogEntry(h.streams.Out, h.streams.Err, e, o.Timestamps)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new output until the pod exits")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "prefix each line with its time")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end")
	f.StringVar(&since, "since", "", "show output since a time or duration ago")
	f.StringVarP(&o.Container, "container", "c", "", "container of the pod (default: all)")
	return cmd
}

// writeLogEntry prints an entry on its stream.
func writeLogEntry(stdout, stderr io.Writer, e types.LogEntry, timestamps bool) error {
	w := stdout
	if e.Stream == "stderr" {
		w = stderr
	}
	line := e.Log
	if timestamps {
		line = e.Time.UTC().Format(time.RFC3339Nano) + " " + line
	}
	_, err := io.WriteString(w, line)
	return err
}

func newStopCommand(h *cli) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] POD [POD...]",
		Short: "Stop pods: SIGTERM, then SIGKILL after a grace period, then power off",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			timeout, err := stopTimeout(cmd, seconds)
			if err != nil {
				return err
			}
			return h.forEach(args, func(id string) error { return c.StopPod(cmd.Context(), id, timeout) })
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "seconds to wait before killing")
	return cmd
}

func newKillCommand(h *cli) *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] POD [POD...]",
		Short: "Send a signal to pods' processes (default SIGKILL)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseSignal(sig)
			if err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.forEach(args, func(id string) error { return c.KillPod(cmd.Context(), id, s) })
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal name or number")
	return cmd
}

func newRmCommand(h *cli) *cobra.Command {
	var force, containers bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] POD [POD...] | rm -c [OPTIONS] POD CONTAINER [CONTAINER...]",
		Short: "Remove pods, or containers of a pod (-c)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if containers {
				if len(args) < 2 {
					return usageErrorf(cmd, "rm -c needs a pod and at least one of its containers")
				}
				return h.removeContainers(cmd.Context(), args, force)
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.forEach(args, func(id string) error { return c.RemovePod(cmd.Context(), id, force) })
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "stop and remove a running pod (with -c: kill a running container)")
	cmd.Flags().BoolVarP(&containers, "containers", "c", false, "remove containers of POD: the rest of the arguments name them")
	return cmd
}

func newInspectCommand(h *cli) *cobra.Command {
	var format, kind string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] POD|IMAGE [POD|IMAGE...]",
		Short: "Show pods and images as JSON",
		Long: `Show pods and images as a JSON array (the API's objects). Names are looked
up as pods first, then as images, unless --type says which.

--format json is the default; any other --format is a Go template applied to
each object. A pod's template sees docker's fields next to Hyper's:
.State.Status (created|running|exited) .State.Running .State.ExitCode
.State.StartedAt .State.FinishedAt .Config.Image .NetworkSettings.IPAddress
(e.g. '{{.State.Status}} {{.State.ExitCode}}'); .State alone prints Hyper's
state, .Name has no leading "/".`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != "" && kind != "pod" && kind != "image" {
				return usageErrorf(cmd, "invalid --type %q: want pod or image", kind)
			}
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var found []any
			var images []types.Image
			imagesListed := false
			failed := 0
			for _, a := range args {
				obj, err := func() (any, error) {
					if kind != "image" {
						p, err := c.GetPod(ctx, a)
						if err == nil || !errors.Is(err, errdefs.ErrNotFound) || kind == "pod" {
							return p, err
						}
					}
					if !imagesListed {
						if images, err = c.ListImages(ctx); err != nil {
							return nil, err
						}
						imagesListed = true
					}
					img, err := findImage(images, a)
					if err != nil {
						return nil, err
					}
					return img, nil
				}()
				if err != nil {
					if errors.Is(err, errdefs.ErrNotFound) {
						err = fmt.Errorf("no such object: %s", a)
					}
					fmt.Fprintf(h.streams.Err, "hyperctl: %v\n", err)
					failed++
					continue
				}
				if p, ok := obj.(types.Pod); ok && f.tmpl != nil {
					obj = newPodInspect(p)
				}
				found = append(found, obj)
			}
			return f.inspected(h.streams.Out, found, failed)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json (default), or a Go template")
	cmd.Flags().StringVar(&kind, "type", "", "only look for a pod or an image")
	return cmd
}

// findImage finds an image by ID, unique ID prefix, or name.
func findImage(images []types.Image, ref string) (types.Image, error) {
	canon := normalizeImageName(ref)
	hexRef := strings.TrimPrefix(ref, "sha256:")
	var byPrefix []types.Image
	for _, img := range images {
		if img.ID == ref || strings.TrimPrefix(img.ID, "sha256:") == hexRef {
			return img, nil
		}
		for _, n := range img.Names {
			if n == ref || n == canon {
				return img, nil
			}
		}
		if isHex(hexRef) && strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), hexRef) {
			byPrefix = append(byPrefix, img)
		}
	}
	switch len(byPrefix) {
	case 1:
		return byPrefix[0], nil
	case 0:
		return types.Image{}, errdefs.NotFound("no such image: %s", ref)
	}
	return types.Image{}, errdefs.InvalidArgument("image ID prefix %s is ambiguous", ref)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
