package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyperhq/hyper/internal/procstat"
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
		u, err := procstat.Read(s.proc, p.VMPid)
		if err != nil {
			continue // the VM ended meanwhile
		}
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, u.CPU.Seconds(), p.ID, p.Name)
		ch <- prometheus.MustNewConstMetric(rssDesc, prometheus.GaugeValue, float64(u.RSS), p.ID, p.Name)
		ch <- prometheus.MustNewConstMetric(pssDesc, prometheus.GaugeValue, float64(u.PSS), p.ID, p.Name)
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
