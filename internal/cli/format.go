package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// shortIDLen is how much of an ID tables show.
const shortIDLen = 12

// shortID is the first 12 characters of an ID (without "sha256:").
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > shortIDLen {
		return id[:shortIDLen]
	}
	return id
}

// humanDuration is docker's: "Less than a second", "About a minute",
// "3 hours", "2 weeks".
func humanDuration(d time.Duration) string {
	if s := int(d.Seconds()); s < 1 {
		return "Less than a second"
	} else if s == 1 {
		return "1 second"
	} else if s < 60 {
		return fmt.Sprintf("%d seconds", s)
	} else if m := int(d.Minutes()); m == 1 {
		return "About a minute"
	} else if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	} else if h := int(d.Round(time.Hour).Hours()); h == 1 {
		return "About an hour"
	} else if h < 48 {
		return fmt.Sprintf("%d hours", h)
	} else if h < 24*7*2 {
		return fmt.Sprintf("%d days", h/24)
	} else if h < 24*30*2 {
		return fmt.Sprintf("%d weeks", h/24/7)
	} else if h < 24*365*2 {
		return fmt.Sprintf("%d months", h/24/30)
	} else {
		return fmt.Sprintf("%d years", int(d.Hours())/24/365)
	}
}

// ago is "5 minutes ago", or "" for a zero time.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return humanDuration(now.Sub(t)) + " ago"
}

// humanSize is docker's: decimal units, 4 significant digits ("1.24MB").
func humanSize(n int64) string {
	return scaledSize(float64(n), 1000, []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"})
}

// scaledSize is v in the largest of units (each base times the one
// before) that keeps it at least 1, with 4 significant digits.
func scaledSize(v, base float64, units []string) string {
	i := 0
	for v >= base && i < len(units)-1 {
		v /= base
		i++
	}
	return fmt.Sprintf("%.4g%s", v, units[i])
}

// ellipsis cuts s to n runes, the last one "…".
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// familiarName is how docker shows an image name:
// "docker.io/library/busybox:latest" is "busybox:latest".
func familiarName(canon string) string {
	s, ok := strings.CutPrefix(canon, "docker.io/")
	if !ok {
		return canon
	}
	if rest, ok := strings.CutPrefix(s, "library/"); ok {
		repo, _, _ := strings.Cut(rest, ":")
		repo, _, _ = strings.Cut(repo, "@")
		if !strings.Contains(repo, "/") {
			return rest
		}
	}
	return s
}

// splitRepoTag splits a name into repository and tag ("<none>" if it has
// a digest or no tag).
func splitRepoTag(name string) (repo, tag string) {
	if i := strings.Index(name, "@"); i >= 0 {
		return name[:i], "<none>"
	}
	slash := strings.LastIndex(name, "/")
	if i := strings.LastIndex(name, ":"); i > slash {
		return name[:i], name[i+1:]
	}
	return name, "<none>"
}

// normalizeImageName is the canonical form of a user's image name, as the
// image store keeps names: "busybox" is "docker.io/library/busybox:latest".
func normalizeImageName(s string) string {
	name := s
	domain := "docker.io"
	if i := strings.Index(name, "/"); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			domain, name = first, name[i+1:]
		}
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(name, "/") {
		name = "library/" + name
	}
	if !strings.Contains(name, "@") && !strings.Contains(name[strings.LastIndex(name, "/")+1:], ":") {
		name += ":latest"
	}
	return domain + "/" + name
}

// podCommand is a pod's first container's command line.
func podCommand(p types.Pod) string { return strings.Join(podArgs(p), " ") }

// podArgs is a pod's first container's command: what ran, else the spec's.
func podArgs(p types.Pod) []string {
	var args []string
	if len(p.Containers) > 0 && len(p.Containers[0].Command) > 0 {
		args = p.Containers[0].Command
	} else if len(p.Spec.Containers) > 0 {
		c := p.Spec.Containers[0]
		args = append(append(args, c.Entrypoint...), c.Cmd...)
	}
	return args
}

// podImage is the pod's image(s), familiar names, comma separated.
func podImage(p types.Pod) string {
	var imgs []string
	if len(p.Containers) > 0 {
		for _, c := range p.Containers {
			imgs = append(imgs, familiarName(c.Image))
		}
	} else {
		for _, c := range p.Spec.Containers {
			imgs = append(imgs, familiarName(c.Image))
		}
	}
	return strings.Join(imgs, ",")
}

// podStatus is docker's STATUS column, with the containers' restarts
// when there were any: "Up 3 minutes (2 restarts)".
func podStatus(p types.Pod, now time.Time) string {
	s := podState(p, now) + healthSuffix(p)
	restarts := 0
	for _, c := range p.Containers {
		restarts += c.RestartCount
	}
	switch {
	case restarts == 1:
		s += " (1 restart)"
	case restarts > 1:
		s += fmt.Sprintf(" (%d restarts)", restarts)
	}
	return s
}

func podState(p types.Pod, now time.Time) string {
	switch p.State {
	case types.StateRunning:
		up := "Up"
		if !p.StartedAt.IsZero() {
			up += " " + humanDuration(now.Sub(p.StartedAt))
		}
		if p.Paused {
			up += " (Paused)"
		}
		return up
	case types.StateExited:
		s := fmt.Sprintf("Exited (%d)", p.ExitCode)
		if !p.FinishedAt.IsZero() {
			s += " " + ago(p.FinishedAt, now)
		}
		return s
	case types.StateCreated:
		return "Created"
	case types.StateFailed:
		if p.Reason != "" {
			return "Failed: " + p.Reason
		}
		return "Failed"
	}
	if p.State == "" {
		return "Unknown"
	}
	return strings.ToUpper(p.State[:1]) + p.State[1:]
}

// newTable is docker's table layout: columns padded by 3 spaces.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
}

// writePods prints ps's table.
func writePods(w io.Writer, pods []types.Pod, noTrunc bool, now time.Time) error {
	sortPods(pods)
	tw := newTable(w)
	fmt.Fprintln(tw, "POD ID\tNAME\tIMAGE\tCOMMAND\tCREATED\tSTATUS")
	for _, p := range pods {
		cmd := ellipsis(podCommand(p), 20)
		if noTrunc {
			cmd = podCommand(p)
		}
		id := displayID(p.ID, noTrunc)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, p.Name, podImage(p), strconv.Quote(cmd), ago(p.Created, now), podStatus(p, now))
	}
	return tw.Flush()
}

// sortPods puts the newest first, as docker ps does.
func sortPods(pods []types.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].Created.After(pods[j].Created) })
}

// imageRow is one line of the images table.
type imageRow struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	ID         string `json:"id"`
	Created    time.Time
	Size       int64
}

func imageRows(imgs []types.Image) []imageRow {
	sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
	var rows []imageRow
	for _, img := range imgs {
		if len(img.Names) == 0 {
			rows = append(rows, imageRow{"<none>", "<none>", img.ID, img.Created, img.Size})
			continue
		}
		for _, n := range img.Names {
			repo, tag := splitRepoTag(familiarName(n))
			rows = append(rows, imageRow{repo, tag, img.ID, img.Created, img.Size})
		}
	}
	return rows
}

// writeImages prints the images table.
func writeImages(w io.Writer, imgs []types.Image, noTrunc bool, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, r := range imageRows(imgs) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, displayID(r.ID, noTrunc), ago(r.Created, now), humanSize(r.Size))
	}
	return tw.Flush()
}

// formatter prints items for --format: "json" (one compact object a line,
// or an indented array with jsonArray), or a Go template per item.
// A "table " prefix aligns the template's tab-separated columns under a
// header row (tabular).
type formatter struct {
	format  string
	tmpl    *template.Template
	tabular bool
}

func newFormatter(format string) (*formatter, error) {
	f := &formatter{format: format}
	if format == "" || format == "json" || format == "table" {
		return f, nil
	}
	if rest, ok := strings.CutPrefix(format, "table "); ok {
		f.tabular, format = true, rest
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("format").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"join":  strings.Join,
	}).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("invalid --format template: %w", err)
	}
	f.tmpl = t
	return f, nil
}

// table reports whether the default table is wanted.
func (f *formatter) table() bool { return f.format == "" || f.format == "table" }

// line prints one item as compact JSON or through the template.
func (f *formatter) line(w io.Writer, v any) error {
	if f.tmpl != nil {
		if err := f.tmpl.Execute(w, v); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		_, err := fmt.Fprintln(w)
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeLines prints each item with f.line.
func writeLines[T any](f *formatter, w io.Writer, items []T) error {
	return writeRows(f, w, items, nil)
}

// writeRows prints each item with f.line; a tabular formatter aligns the
// columns under a header row: the template run on headers (a value whose
// fields are the columns' titles), when the template runs on it.
func writeRows[T any](f *formatter, w io.Writer, items []T, headers any) error {
	if !f.tabular {
		for _, v := range items {
			if err := f.line(w, v); err != nil {
				return err
			}
		}
		return nil
	}
	tw := newTable(w)
	if headers != nil {
		var b strings.Builder
		if f.tmpl.Execute(&b, headers) == nil {
			fmt.Fprintln(tw, b.String())
		}
	}
	for _, v := range items {
		if err := f.line(tw, v); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// displayID is an ID as tables and -q show it: short unless noTrunc.
func displayID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	return shortID(id)
}

// object prints one object (info, system df): indented JSON, the template,
// or the command's own table.
func (f *formatter) object(w io.Writer, v any, table func() error) error {
	switch {
	case f.format == "json":
		return writeJSONIndent(w, v)
	case f.tmpl != nil:
		return f.line(w, v)
	}
	return table()
}

// writeJSONIndent prints v as indented JSON.
func writeJSONIndent(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
