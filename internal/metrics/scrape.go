package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	podsDesc   = prometheus.NewDesc("hyper_pods", "Pods by state.", []string{"state"}, nil)
	imagesDesc = prometheus.NewDesc("hyper_images", "Images in the store.", nil, nil)
	storeDesc  = prometheus.NewDesc("hyper_image_store_bytes", "Bytes the image store takes on disk.", nil, nil)
	cpuDesc    = prometheus.NewDesc("hyper_pod_vm_cpu_seconds_total", "CPU time of the pod's QEMU process (user+system).", []string{"pod", "name"}, nil)
	rssDesc    = prometheus.NewDesc("hyper_pod_vm_memory_rss_bytes", "Resident memory of the pod's QEMU process.", []string{"pod", "name"}, nil)
	pssDesc    = prometheus.NewDesc("hyper_pod_vm_memory_pss_bytes", "Proportional set size of the pod's QEMU process.", []string{"pod", "name"}, nil)
)

// podStates are reported even when no pod has them.
var podStates = []string{"created", "running", "exited", "failed"}

// scrape collects the scrape-time figures from a Source and /proc.
type scrape struct {
	src  Source
	proc string // /proc
}

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{podsDesc, imagesDesc, storeDesc, cpuDesc, rssDesc, pssDesc} {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	pods := s.src.Pods()
	byState := map[string]int{}
	for _, st := range podStates {
		byState[st] = 0
	}
	for _, p := range pods {
		byState[p.State]++
		if p.VMPid <= 0 {
			continue
		}
		u, err := readProc(s.proc, p.VMPid)
		if err != nil {
			continue // the VM ended meanwhile
		}
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, u.cpu.Seconds(), p.ID, p.Name)
		ch <- prometheus.MustNewConstMetric(rssDesc, prometheus.GaugeValue, float64(u.rss), p.ID, p.Name)
		ch <- prometheus.MustNewConstMetric(pssDesc, prometheus.GaugeValue, float64(u.pss), p.ID, p.Name)
	}
	for st, n := range byState {
		ch <- prometheus.MustNewConstMetric(podsDesc, prometheus.GaugeValue, float64(n), st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, b, err := s.src.Images(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(imagesDesc, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(storeDesc, prometheus.GaugeValue, float64(b))
	} else {
		ch <- prometheus.NewInvalidMetric(imagesDesc, err)
	}
}

// usage is a process's CPU time and memory.
type usage struct {
	cpu      time.Duration
	rss, pss int64 // bytes
}

// clockTick is USER_HZ: /proc/PID/stat's unit of CPU time (100 on
// every Linux architecture hyperd runs on).
const clockTick = 100

// maxProcFile bounds what is read of a /proc file.
const maxProcFile = 64 << 10

// readProc reads process pid's CPU time (/proc/PID/stat) and memory
// (/proc/PID/smaps_rollup).
func readProc(proc string, pid int) (usage, error) {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	stat, err := readBounded(filepath.Join(dir, "stat"))
	if err != nil {
		return usage{}, err
	}
	ticks, err := parseStatCPU(stat)
	if err != nil {
		return usage{}, fmt.Errorf("%s/stat: %w", dir, err)
	}
	u := usage{cpu: time.Duration(ticks) * time.Second / clockTick}
	if rollup, err := readBounded(filepath.Join(dir, "smaps_rollup")); err == nil {
		u.rss, u.pss = parseRollup(rollup)
	}
	return u, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxProcFile))
}

// parseStatCPU returns utime+stime (clock ticks) of a /proc/PID/stat
// line: fields 14 and 15, counted after the command's closing paren
// (the command may hold spaces and parens).
func parseStatCPU(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command field")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command, want at least 13", len(f))
	}
	ut, err := strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	st, err := strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return ut + st, nil
}

// parseRollup returns the Rss and Pss lines (kB) of smaps_rollup, in
// bytes; what it does not find is 0.
func parseRollup(b []byte) (rss, pss int64) {
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			continue
		}
		switch string(f[0]) {
		case "Rss:":
			rss = kb << 10
		case "Pss:":
			pss = kb << 10
		}
	}
	return rss, pss
}
