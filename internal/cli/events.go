package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
)

// newEventsCommand is `hyperctl events`: docker's events.
func newEventsCommand(h *cli) *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from hyperd",
		Long: `Stream hyperd's events as they happen: pods (docker's containers: create,
start, die, oom, kill, stop, pause, unpause, destroy, rename, exec_create,
exec_start, exec_die), images (pull, load, tag, untag, delete, push) and
volumes (create, destroy). A reader too slow to keep up gets a daemon
events-lost event with the count of events it missed.

--since replays the recent past that hyperd keeps in memory (its last 4096
events since it started); --until ends the stream then (at once after the
replay if it is past). Both take RFC3339 times, Unix seconds (with a
fraction) or durations before now such as 10m.

--filter (repeatable; values of one key are alternatives, keys must all
match): type=container|image|volume, event=ACTION, container=NAME|ID (pod=
too), image=NAME|ID, label=KEY[=VALUE], volume=NAME.

--format json prints each event as JSON; any other --format is a Go template
({{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Time}}).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := client.EventOptions{Since: since, Until: until}
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok {
					return usageErrorf(cmd, "--filter %q: want key=value", f)
				}
				if o.Filters == nil {
					o.Filters = map[string][]string{}
				}
				o.Filters[k] = append(o.Filters[k], v)
			}
			var f *formatter
			if format != "" {
				var err error
				if f, err = newFormatter(format); err != nil {
					return usageErrorf(cmd, "%v", err)
				}
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			out := h.streams.Out
			return c.Events(cmd.Context(), o, func(e types.Event) error {
				if f != nil {
					return f.line(out, e)
				}
				return writeEventLine(out, e)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "show events from this time on (RFC3339, Unix seconds, or a duration before now: 10m)")
	fl.StringVar(&until, "until", "", "stream events until this time")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "filter events (type=, event=, container= or pod=, image=, label=, volume=)")
	fl.StringVar(&format, "format", "", "json, or a Go template")
	return cmd
}

// eventTimeLayout is docker's events time format.
const eventTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// writeEventLine prints e as docker's events does by default:
// time type action id (attributes sorted by key).
func writeEventLine(w io.Writer, e types.Event) error {
	t := time.Unix(0, e.TimeNano).UTC()
	line := fmt.Sprintf("%s %s %s %s", t.Format(eventTimeLayout), e.Type, e.Action, e.Actor.ID)
	if len(e.Actor.Attributes) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(e.Actor.Attributes)) {
			kv = append(kv, k+"="+e.Actor.Attributes[k])
		}
		line += " (" + strings.Join(kv, ", ") + ")"
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
