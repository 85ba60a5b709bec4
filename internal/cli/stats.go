package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
)

// statsRow is one container's line of `hyperctl stats`, with docker's
// field names (and keys for --format json) plus the VM's host cost.
type statsRow struct {
	ID        string `json:"ID"`
	Container string `json:"Container"`
	Name      string `json:"Name"`
	CPUPerc   string `json:"CPUPerc"`
	MemUsage  string `json:"MemUsage"`
	MemPerc   string `json:"MemPerc"`
	NetIO     string `json:"NetIO"`
	BlockIO   string `json:"BlockIO"`
	PIDs      string `json:"PIDs"`
	VMCPUPerc string `json:"VMCPUPerc"`
	VMMem     string `json:"VMMem"`
}

var statsHeaders = statsRow{ID: "CONTAINER ID", Container: "CONTAINER", Name: "NAME", CPUPerc: "CPU %",
	MemUsage: "MEM USAGE / LIMIT", MemPerc: "MEM %", NetIO: "NET I/O", BlockIO: "BLOCK I/O", PIDs: "PIDS",
	VMCPUPerc: "VM CPU %", VMMem: "VM MEM"}

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}\t{{.VMCPUPerc}}\t{{.VMMem}}"

func newStatsCommand(h *cli) *cobra.Command {
	var noStream, noTrunc, all bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [POD...]",
		Short: "Show the pods' resource use: per container from the guest's cgroups, and each VM's cost on the host",
		Long: `Show the pods' resource use, one line per container, refreshed every second
(--no-stream: one reading). Columns are docker's (CPU % is of one CPU of the VM,
MEM USAGE is the cgroup's usage less its inactive file cache, LIMIT its memory.max
or else the VM's memory; NET I/O is the pod's, shared by its containers) plus the
VM's own cost on the host: VM CPU % (the hypervisor process, 100% = one host CPU)
and VM MEM (its resident memory). Without POD: every running pod (--all: every
pod, those not running with empty figures).

--format json prints one JSON object per line with docker's keys; any other
--format is a Go template with docker's fields (.ID .Container .Name .CPUPerc
.MemUsage .MemPerc .NetIO .BlockIO .PIDs) and .VMCPUPerc .VMMem.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = statsTable
			}
			f, c, err := h.formatClient(cmd, format)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pods, err := statsPods(ctx, c, args, all)
			if err != nil {
				return err
			}
			st := &statsSet{pods: pods, noTrunc: noTrunc}
			if noStream {
				st.sampleTwice(ctx, c)
				return writeRows(f, h.streams.Out, st.rows(), statsHeaders)
			}
			return st.stream(ctx, c, f, h.streams.Out, format == statsTable || f.tabular)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&noStream, "no-stream", false, "print one reading and exit")
	fl.BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs")
	fl.BoolVarP(&all, "all", "a", false, "show every pod (default: the running ones)")
	fl.StringVar(&format, "format", "", "json, or a Go template")
	return cmd
}

// statsPods are the pods named (each must exist), or those listed.
func statsPods(ctx context.Context, c *client.Client, args []string, all bool) ([]types.Pod, error) {
	if len(args) == 0 {
		pods, err := c.ListPods(ctx, all)
		sortPods(pods)
		return pods, err
	}
	var pods []types.Pod
	for _, a := range args {
		p, err := c.GetPod(ctx, a)
		if err != nil {
			return nil, err
		}
		pods = append(pods, p)
	}
	return pods, nil
}

// statsSet holds each pod's last two readings.
type statsSet struct {
	pods    []types.Pod
	noTrunc bool
	mu      sync.Mutex
	last    map[string][2]*types.PodStats // by pod ID: previous, current
}

func (s *statsSet) add(id string, st types.PodStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = make(map[string][2]*types.PodStats)
	}
	p := s.last[id]
	s.last[id] = [2]*types.PodStats{p[1], &st}
}

// drop forgets a pod that stopped running.
func (s *statsSet) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.last, id)
}

// sampleTwice reads every running pod twice, a second apart, in parallel.
func (s *statsSet) sampleTwice(ctx context.Context, c *client.Client) {
	var wg sync.WaitGroup
	for _, p := range s.pods {
		if p.State != types.StateRunning {
			continue
		}
		wg.Go(func() {
			n := 0
			c.StreamStats(ctx, p.ID, func(st types.PodStats) error {
				s.add(p.ID, st)
				if n++; n == 2 {
					return errEnough
				}
				return nil
			})
		})
	}
	wg.Wait()
}

var errEnough = errors.New("enough")

// stream reads every pod each second and prints all rows each second,
// clearing the screen first for tables, until ctx ends or no pod runs.
func (s *statsSet) stream(ctx context.Context, c *client.Client, f *formatter, w io.Writer, clear bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range s.pods {
		if p.State != types.StateRunning {
			continue
		}
		wg.Go(func() {
			c.StreamStats(ctx, p.ID, func(st types.PodStats) error { s.add(p.ID, st); return nil })
			s.drop(p.ID)
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		case <-t.C:
		}
		if clear {
			fmt.Fprint(w, "\033[2J\033[H")
		}
		if err := writeRows(f, w, s.rows(), statsHeaders); err != nil {
			return err
		}
	}
}

// rows are the containers' lines, pod by pod.
func (s *statsSet) rows() []statsRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []statsRow
	for _, p := range s.pods {
		r := s.last[p.ID]
		if r[1] == nil {
			if s.last != nil && p.State == types.StateRunning {
				continue // stopped meanwhile
			}
			for _, c := range p.Containers {
				if !c.Init {
					out = append(out, emptyStatsRow(p, c.Name, s.noTrunc))
				}
			}
			continue
		}
		out = append(out, podStatsRows(p, r[0], r[1], s.noTrunc)...)
	}
	return out
}

// statsName is a row's NAME: the pod's, or pod/container in a pod of
// several containers.
func statsName(p types.Pod, ctr string) string {
	n := 0
	for _, c := range p.Containers {
		if !c.Init {
			n++
		}
	}
	if n <= 1 {
		return p.Name
	}
	return p.Name + "/" + ctr
}

func emptyStatsRow(p types.Pod, ctr string, noTrunc bool) statsRow {
	id := displayID(p.ID, noTrunc)
	return statsRow{ID: id, Container: id, Name: statsName(p, ctr), CPUPerc: "0.00%", MemUsage: "0B / 0B",
		MemPerc: "0.00%", NetIO: "0B / 0B", BlockIO: "0B / 0B", PIDs: "0", VMCPUPerc: "0.00%", VMMem: "0B"}
}

// podStatsRows computes a pod's lines from its current reading and the
// one before (nil: the rates are 0).
func podStatsRows(p types.Pod, prev, cur *types.PodStats, noTrunc bool) []statsRow {
	id := displayID(p.ID, noTrunc)
	var rx, tx uint64
	for _, n := range cur.Networks {
		rx, tx = rx+n.RxBytes, tx+n.TxBytes
	}
	vmCPU := 0.0
	if prev != nil {
		vmCPU = percent(cur.VM.HostCPUNanos, prev.VM.HostCPUNanos, cur.Read.Sub(prev.Read).Nanoseconds())
	}
	var out []statsRow
	for _, c := range cur.Containers {
		cpu := 0.0
		if prev != nil {
			if i := slices.IndexFunc(prev.Containers, func(x types.ContainerStats) bool { return x.Name == c.Name }); i >= 0 {
				cpu = percent(c.CPU.UsageNanos, prev.Containers[i].CPU.UsageNanos, cur.GuestNanos-prev.GuestNanos)
			}
		}
		used := c.Memory.Usage
		if c.Memory.InactiveFile < used {
			used -= c.Memory.InactiveFile
		}
		limit := c.Memory.Limit
		if limit == 0 || limit > cur.VM.MemTotalBytes && cur.VM.MemTotalBytes > 0 {
			limit = cur.VM.MemTotalBytes
		}
		memPerc := 0.0
		if limit > 0 {
			memPerc = float64(used) / float64(limit) * 100
		}
		out = append(out, statsRow{ID: id, Container: id, Name: statsName(p, c.Name),
			CPUPerc:   fmt.Sprintf("%.2f%%", cpu),
			MemUsage:  bytesSize(used) + " / " + bytesSize(limit),
			MemPerc:   fmt.Sprintf("%.2f%%", memPerc),
			NetIO:     humanSize(int64(min(rx, 1<<62))) + " / " + humanSize(int64(min(tx, 1<<62))),
			BlockIO:   humanSize(int64(min(c.BlockIO.ReadBytes, 1<<62))) + " / " + humanSize(int64(min(c.BlockIO.WriteBytes, 1<<62))),
			PIDs:      fmt.Sprint(c.Pids.Current),
			VMCPUPerc: fmt.Sprintf("%.2f%%", vmCPU),
			VMMem:     bytesSize(cur.VM.HostRSSBytes)})
	}
	return out
}

// percent is the rate of a counter of nanoseconds over a span of them:
// 100 is one CPU. A counter that went back (or no time) is 0.
func percent(cur, prev uint64, span int64) float64 {
	if cur < prev || span <= 0 {
		return 0
	}
	return float64(cur-prev) / float64(span) * 100
}

// bytesSize is docker's binary size: 4 significant digits ("1.5MiB").
func bytesSize(n uint64) string {
	return scaledSize(float64(n), 1024, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"})
}
