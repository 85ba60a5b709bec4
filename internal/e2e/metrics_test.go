package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape GETs /metrics from hc and returns the samples: series (name
// with its labels as printed) to value.
func scrape(t *testing.T, hc *http.Client, url string) map[string]float64 {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scraping %s: %s: %s", url, resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sum adds the samples whose series starts with prefix.
func sum(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestMetrics: /metrics of a real hyperd, on its socket and on the
// [metrics] address, moves with a run --rm, a run -d and an exec.
func TestMetrics(t *testing.T) {
	port := freePort(t)
	h := newHyperdConfig(t, fmt.Sprintf("[metrics]\naddress = \"127.0.0.1:%d\"\n", port))
	tcp := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	unix := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", h.sock)
	}}}
	waitFor(t, 10*time.Second, "the metrics address", func() bool {
		resp, err := http.Get(tcp)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	h.loadBusybox()
	before := scrape(t, http.DefaultClient, tcp)

	h.ok("run", "--rm", "busybox", "true")
	h.ok("run", "-d", "--name", "m", "busybox", "sleep", "1000")
	h.ok("exec", "m", "true")
	var after map[string]float64
	waitFor(t, 30*time.Second, "the run --rm VM's exit counted", func() bool {
		after = scrape(t, unix, "http://hyperd/metrics")
		return sum(after, `hyper_vm_exits_total{reason="exited"}`) >= sum(before, `hyper_vm_exits_total{reason="exited"}`)+1
	})
	for _, c := range []struct {
		series string
		delta  float64
	}{
		{"hyper_pod_starts_total", 2},
		{"hyper_pod_start_seconds_count", 2},
		{`hyper_guest_rpc_seconds_count{method="ExecProcess"}`, 3},
	} {
		if d := sum(after, c.series) - sum(before, c.series); d < c.delta {
			t.Errorf("%s moved by %v, want at least %v", c.series, d, c.delta)
		}
	}
	if d := sum(after, "hyper_pod_starts_total") - sum(before, "hyper_pod_starts_total"); d != 2 {
		t.Errorf("pod starts moved by %v, want 2", d)
	}
	if after[`hyper_pods{state="running"}`] != 1 || after["hyper_images"] != 1 || after["hyper_image_store_bytes"] <= 0 {
		t.Errorf("gauges: running %v, images %v, store bytes %v", after[`hyper_pods{state="running"}`], after["hyper_images"], after["hyper_image_store_bytes"])
	}
	if sum(after, "hyper_pod_vm_cpu_seconds_total") <= 0 || sum(after, "hyper_pod_vm_memory_rss_bytes") < 16<<20 || sum(after, "hyper_pod_vm_memory_pss_bytes") <= 0 {
		t.Errorf("per-pod VM figures: cpu %v, rss %v, pss %v", sum(after, "hyper_pod_vm_cpu_seconds_total"),
			sum(after, "hyper_pod_vm_memory_rss_bytes"), sum(after, "hyper_pod_vm_memory_pss_bytes"))
	}
	if !strings.Contains(fmt.Sprint(after), `name="m"`) || sum(after, "go_goroutines") <= 0 || sum(after, "process_cpu_seconds_total") <= 0 {
		t.Errorf("no per-pod series named m, or no Go/process collectors")
	}
	t.Logf("starts by boot: template %v, cold %v; start latency sum %.2fs; VM CPU %.2fs, RSS %.0f MiB, PSS %.0f MiB",
		sum(after, `hyper_pod_starts_total{boot="template"}`), sum(after, `hyper_pod_starts_total{boot="cold"}`),
		sum(after, "hyper_pod_start_seconds_sum"), sum(after, "hyper_pod_vm_cpu_seconds_total"),
		sum(after, "hyper_pod_vm_memory_rss_bytes")/(1<<20), sum(after, "hyper_pod_vm_memory_pss_bytes")/(1<<20))
}
