package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
)

func newTopCommand(h *cli) *cobra.Command {
	var container string
	cmd := &cobra.Command{
		Use:   "top [-c CONTAINER] POD [ps OPTIONS]",
		Short: "Show the processes of a pod's container",
		Long: `Show the processes of a pod's container (the first unless -c), read in its VM:
the processes of the container's cgroup, pids as the pod sees them.

docker hands ps options to the host's ps; here the guest reports each process and
hyperctl prints ps's columns. Supported: no options or -ef/-f/-e (UID PID PPID C
STIME TTY TIME CMD), aux (USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND),
and -o/-eo LIST with the columns pid, ppid, uid, user, stat (s, state), rss, vsz,
time, etime, stime (start), tty, c, %cpu (pcpu), %mem (pmem), comm, args (cmd,
command). Other options are refused.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cols, err := psColumns(args[1:])
			if err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			top, err := c.Top(cmd.Context(), args[0], container)
			if err != nil {
				return err
			}
			return writeTop(h, top, cols, time.Now())
		},
	}
	cmd.Flags().SetInterspersed(false) // ps options after POD are ps's
	cmd.Flags().StringVarP(&container, "container", "c", "", "the container (default: the pod's first)")
	return cmd
}

// psColumn is one ps column: its title and its value for a process.
type psColumn struct {
	title string
	value func(p types.Process, c *topClock) string
}

// topClock turns a TopResponse's VM uptimes into wall time.
type topClock struct {
	now      time.Time
	uptime   time.Duration
	memTotal uint64
}

func (c *topClock) started(p types.Process) time.Time { return c.now.Add(p.Start - c.uptime) }

func (c *topClock) age(p types.Process) time.Duration { return max(c.uptime-p.Start, 0) }

func (c *topClock) cpu(p types.Process) float64 {
	if a := c.age(p); a > 0 {
		return float64(p.CPUTime) / float64(a) * 100
	}
	return 0
}

var psColumnSet = map[string]psColumn{
	"pid":  {"PID", func(p types.Process, _ *topClock) string { return strconv.Itoa(p.Pid) }},
	"ppid": {"PPID", func(p types.Process, _ *topClock) string { return strconv.Itoa(p.PPid) }},
	"uid":  {"UID", func(p types.Process, _ *topClock) string { return strconv.Itoa(p.UID) }},
	"user": {"USER", func(p types.Process, _ *topClock) string { return psUser(p) }},
	"stat": {"STAT", func(p types.Process, _ *topClock) string { return p.State }},
	"rss":  {"RSS", func(p types.Process, _ *topClock) string { return strconv.FormatUint(p.RSSBytes>>10, 10) }},
	"vsz":  {"VSZ", func(p types.Process, _ *topClock) string { return strconv.FormatUint(p.VSZBytes>>10, 10) }},
	"time": {"TIME", func(p types.Process, _ *topClock) string { return psTime(p.CPUTime) }},
	"etime": {"ELAPSED", func(p types.Process, c *topClock) string {
		return strings.TrimPrefix(psTime(c.age(p)), "00:")
	}},
	"stime": {"STIME", func(p types.Process, c *topClock) string { return psStart(c.started(p), c.now) }},
	"tty":   {"TTY", func(p types.Process, _ *topClock) string { return or(p.TTY, "?") }},
	"c":     {"C", func(p types.Process, c *topClock) string { return strconv.Itoa(int(c.cpu(p))) }},
	"%cpu":  {"%CPU", func(p types.Process, c *topClock) string { return fmt.Sprintf("%.1f", c.cpu(p)) }},
	"%mem": {"%MEM", func(p types.Process, c *topClock) string {
		if c.memTotal == 0 {
			return "0.0"
		}
		return fmt.Sprintf("%.1f", float64(p.RSSBytes)/float64(c.memTotal)*100)
	}},
	"comm": {"COMMAND", func(p types.Process, _ *topClock) string { return psComm(p.Cmd) }},
	"args": {"CMD", func(p types.Process, _ *topClock) string { return p.Cmd }},
}

var psAliases = map[string]string{"s": "stat", "state": "stat", "start": "stime", "pcpu": "%cpu", "pmem": "%mem",
	"cmd": "args", "command": "args"}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// psColumns reads top's ps options.
func psColumns(opts []string) ([]psColumn, error) {
	col := func(name, title string) psColumn {
		c := psColumnSet[name]
		if title != "" {
			c.title = title
		}
		return c
	}
	full := func() []psColumn {
		return []psColumn{col("user", "UID"), col("pid", ""), col("ppid", ""), col("c", ""), col("stime", ""),
			col("tty", ""), col("time", ""), col("args", "")}
	}
	switch strings.Join(opts, " ") {
	case "", "-ef", "-f", "-e", "ef", "-fe":
		return full(), nil
	case "aux", "-aux", "au", "ax":
		return []psColumn{col("user", ""), col("pid", ""), col("%cpu", ""), col("%mem", ""), col("vsz", ""),
			col("rss", ""), col("tty", ""), col("stat", ""), col("stime", "START"), col("time", ""),
			col("args", "COMMAND")}, nil
	}
	if len(opts) == 2 && (opts[0] == "-o" || opts[0] == "-eo" || opts[0] == "o") {
		var cols []psColumn
		for _, f := range strings.FieldsFunc(opts[1], func(r rune) bool { return r == ',' || r == ' ' }) {
			name, title, _ := strings.Cut(f, "=")
			name = strings.ToLower(name)
			if a, ok := psAliases[name]; ok {
				name = a
			}
			if _, ok := psColumnSet[name]; !ok {
				return nil, fmt.Errorf("ps column %q is not supported (supported: pid ppid uid user stat rss vsz time etime stime tty c %%cpu %%mem comm args)", f)
			}
			cols = append(cols, col(name, strings.ToUpper(title)))
		}
		if len(cols) > 0 {
			return cols, nil
		}
	}
	return nil, fmt.Errorf("ps options %q are not supported: the processes are read in the VM; use none, -ef, aux or -o COLUMNS", strings.Join(opts, " "))
}

func writeTop(h *cli, top types.TopResponse, cols []psColumn, now time.Time) error {
	c := &topClock{now: now, uptime: top.Uptime, memTotal: top.MemTotalBytes}
	tw := newTable(h.streams.Out)
	titles := make([]string, len(cols))
	for i, col := range cols {
		titles[i] = col.title
	}
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, p := range top.Processes {
		vals := make([]string, len(cols))
		for i, col := range cols {
			vals[i] = strings.ReplaceAll(col.value(p, c), "\t", " ")
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

func psUser(p types.Process) string {
	if p.User != "" {
		return p.User
	}
	return strconv.Itoa(p.UID)
}

// psTime is ps's TIME: [DD-]HH:MM:SS.
func psTime(d time.Duration) string {
	s := int64(d / time.Second)
	out := fmt.Sprintf("%02d:%02d:%02d", s/3600%24, s/60%60, s%60)
	if days := s / 86400; days > 0 {
		out = fmt.Sprintf("%d-%s", days, out)
	}
	return out
}

// psStart is ps's STIME: HH:MM today, else "Jan02".
func psStart(t, now time.Time) string {
	t = t.Local()
	if y, m, d := now.Local().Date(); t.Year() == y && t.Month() == m && t.Day() == d {
		return t.Format("15:04")
	}
	return t.Format("Jan02")
}

// psComm is a command line's program name.
func psComm(cmd string) string {
	if strings.HasPrefix(cmd, "[") {
		return strings.Trim(cmd, "[]")
	}
	f, _, _ := strings.Cut(cmd, " ")
	return f[strings.LastIndexByte(f, '/')+1:]
}
