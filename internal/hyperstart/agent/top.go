package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/cgroup"
	"github.com/hyperhq/hyper/internal/hyperstart/inroot"
	"github.com/hyperhq/hyper/internal/hyperstart/passwd"
	"github.com/hyperhq/hyper/internal/protocol"
)

// userHZ is the unit of /proc/PID/stat's times.
const userHZ = 100

// Top lists the processes of a container: its cgroup's and its
// descendants', at most protocol.MaxTopProcesses.
func (a *Agent) Top(_ context.Context, ref protocol.ContainerRef) (protocol.TopResult, error) {
	a.mu.Lock()
	c, err := a.lookup(ref.Container)
	var cg cgroup.Group
	var rootfs string
	if err == nil {
		cg, rootfs = c.cg, c.rootfs
	}
	a.mu.Unlock()
	if err != nil {
		return protocol.TopResult{}, err
	}
	pids := treeProcs(cg.Path)
	names := userNames(rootfs)
	var res protocol.TopResult
	for _, pid := range pids {
		if len(res.Processes) == protocol.MaxTopProcesses {
			break
		}
		if p, ok := readProcess(pid); ok {
			if n, ok := names[p.UID]; ok && len(n) <= protocol.MaxTopUser {
				p.User = n
			}
			res.Processes = append(res.Processes, p)
		}
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
		res.UptimeNanos = ts.Nano()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		res.MemTotalBytes, _ = parseMeminfo(b)
	}
	if res.Processes == nil {
		res.Processes = []protocol.ProcessInfo{}
	}
	return res, nil
}

// treeProcs are the pids in the cgroup at dir and below, sorted.
func treeProcs(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if ps, err := (cgroup.Group{Path: p}).Procs(); err == nil {
			pids = append(pids, ps...)
		}
		return nil
	})
	sort.Ints(pids)
	return pids
}

// userNames maps the uids of the image's /etc/passwd to their names.
func userNames(rootfs string) map[int]string {
	names := map[int]string{}
	r, err := inroot.Open(rootfs)
	if err != nil {
		return names
	}
	defer r.Close()
	var users []passwd.User
	if readImageFile(r, "/etc/passwd", func(f *os.File) (err error) { users, err = passwd.ParsePasswd(f); return }) != nil {
		return names
	}
	for _, u := range users {
		if _, ok := names[u.UID]; !ok {
			names[u.UID] = u.Name
		}
	}
	return names
}

// readProcess reads /proc/PID: false if the process is gone.
func readProcess(pid int) (protocol.ProcessInfo, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return protocol.ProcessInfo{}, false
	}
	p, ok := parseStat(pid, stat)
	if !ok {
		return p, false
	}
	if st, err := os.ReadFile(dir + "/status"); err == nil {
		p.UID = statusUID(st)
	}
	cmd, _ := os.ReadFile(dir + "/cmdline")
	if len(cmd) > protocol.MaxTopCommand {
		cmd = cmd[:protocol.MaxTopCommand]
	}
	if s := strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))); s != "" {
		p.Cmd = strings.ToValidUTF8(s, "?")
		if len(p.Cmd) > protocol.MaxTopCommand {
			p.Cmd = p.Cmd[:protocol.MaxTopCommand]
		}
	}
	return p, true
}

// parseStat reads a /proc/PID/stat line: the command name ("[name]", the
// command line's stand-in), state, ppid, tty, times, sizes.
func parseStat(pid int, b []byte) (protocol.ProcessInfo, bool) {
	p := protocol.ProcessInfo{Pid: pid}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return p, false
	}
	p.Cmd = "[" + strings.ToValidUTF8(string(b[open+1:end]), "?") + "]"
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 22 {
		return p, false
	}
	n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
	p.State = f[0]
	if len(p.State) > 1 {
		p.State = p.State[:1]
	}
	p.PPid = int(n(1))
	p.TTY = ttyName(n(4))
	tick := uint64(time.Second / userHZ)
	p.CPUNanos = (n(11) + n(12)) * tick
	p.StartNanos = int64(n(19) * tick)
	p.VSZBytes = n(20)
	p.RSSBytes = n(21) * uint64(os.Getpagesize())
	return p, true
}

// ttyName names a tty_nr: pts/N and ttyN; "" for none or others.
func ttyName(nr uint64) string {
	major, minor := (nr>>8)&0xfff, (nr&0xff)|((nr>>12)&0xfff00)
	switch {
	case nr == 0:
		return ""
	case major >= 136 && major <= 143:
		return "pts/" + strconv.FormatUint((major-136)*256+minor, 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatUint(minor, 10)
	case major == 4:
		return "ttyS" + strconv.FormatUint(minor-64, 10)
	case major == 5 && minor == 1:
		return "console"
	}
	return ""
}

// statusUID is /proc/PID/status's real uid.
func statusUID(b []byte) int {
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				u, _ := strconv.Atoi(f[0])
				return u
			}
		}
	}
	return 0
}
