package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
)

func newPullCommand(h *cli) *cobra.Command {
	var platform, format string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] IMAGE",
		Short: "Pull an image from a registry",
		Long: `Pull an image (name:tag or name@digest) from its registry into hyperd's
store. For a multi-platform image, hyperd's own platform is pulled unless
--platform (os/arch[/variant]) says otherwise.

hyperd, not hyperctl, talks to the registry: credentials come from the
docker config of the user hyperd runs as (root: /root/.docker/config.json),
which 'hyperctl login' writes when run as that user; insecure registries
and mirrors are set in hyperd's configuration ([registry]).

-q prints only the image ID. --format json prints every progress event and
the final one (with "image" or "error") as one JSON object per line.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				return usageErrorf(cmd, "--format %q: only json is supported", format)
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			mode := pullProgress
			switch {
			case format == "json":
				mode = pullJSON
			case quiet:
				mode = pullQuiet
			}
			img, err := h.pull(cmd.Context(), c, args[0], platform, mode, h.streams.Out)
			if err != nil {
				return err
			}
			if mode == pullQuiet {
				fmt.Fprintln(h.streams.Out, img.ID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&platform, "platform", "", "platform to pull (os/arch[/variant]), default hyperd's")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	f.StringVar(&format, "format", "", "json: print the progress events as JSON lines")
	return cmd
}

type pullMode int

const (
	pullProgress pullMode = iota
	pullQuiet
	pullJSON
)

// pull pulls ref, showing progress on out as mode says.
func (h *cli) pull(ctx context.Context, c *client.Client, ref, platform string, mode pullMode, out io.Writer) (types.Image, error) {
	var fn func(types.PullEvent)
	var p *progressPrinter
	switch mode {
	case pullJSON:
		enc := json.NewEncoder(out)
		fn = func(ev types.PullEvent) { _ = enc.Encode(ev) }
	case pullProgress:
		p = &progressPrinter{w: out, tty: isTerminal(out), lines: map[string]int{}, last: map[string]string{}}
		fn = p.event
	}
	img, err := c.PullImage(ctx, ref, platform, fn)
	if mode == pullJSON {
		ev := types.PullEvent{ID: ref, Status: "pulled", Image: &img}
		if err != nil {
			ev = types.PullEvent{ID: ref, Error: err.Error()}
		}
		_ = json.NewEncoder(out).Encode(ev)
	}
	if err != nil {
		return types.Image{}, err
	}
	if mode == pullProgress {
		name := ref
		if len(img.Names) > 0 {
			name = familiarName(img.Names[0])
		}
		fmt.Fprintf(out, "Pulled %s (%s)\n", name, img.ID)
	}
	return img, nil
}

// progressPrinter shows one line per layer: rewritten in place on a
// terminal, printed on each change of status otherwise.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	order []string
	lines map[string]int    // layer ID -> line index
	last  map[string]string // layer ID -> last status printed
}

func (p *progressPrinter) event(ev types.PullEvent) {
	if ev.ID == "" {
		return
	}
	text := ev.ID + ": " + ev.Status
	if ev.Status == "downloading" && ev.Total > 0 {
		text += fmt.Sprintf(" %s/%s", humanSize(ev.Current), humanSize(ev.Total))
	}
	if !p.tty {
		if p.last[ev.ID] != ev.Status {
			p.last[ev.ID] = ev.Status
			fmt.Fprintln(p.w, text)
		}
		return
	}
	i, ok := p.lines[ev.ID]
	if !ok {
		p.lines[ev.ID] = len(p.order)
		p.order = append(p.order, ev.ID)
		fmt.Fprintf(p.w, "%s\n", text)
		return
	}
	up := len(p.order) - i
	fmt.Fprintf(p.w, "\x1b[%dA\r\x1b[2K%s\x1b[%dB\r", up, text, up)
}

// pullForRun pulls IMAGE for run --pull, with progress on stderr.
func (h *cli) pullForRun(ctx context.Context, c *client.Client, ref string) error {
	_, err := h.pull(ctx, c, ref, "", pullProgress, h.streams.Err)
	return err
}
