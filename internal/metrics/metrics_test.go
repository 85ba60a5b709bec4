package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeSource struct {
	pods []Pod
	err  error
}

func (f fakeSource) Pods() []Pod { return f.pods }
func (f fakeSource) Images(context.Context) (int, int64, error) {
	return 3, 1 << 20, f.err
}

// fakeProc writes /proc/PID/stat and smaps_rollup of pid under dir.
func fakeProc(t *testing.T, dir string, pid int, utime, stime int) {
	d := filepath.Join(dir, fmt.Sprint(pid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (qemu-system (x) 86) S 1 1 1 0 -1 4194560 100 0 0 0 %d %d 0 0 20 0 3 0 100 1000 200 18446744073709551615\n", pid, utime, stime)
	rollup := "00400000-7ffd [rollup]\nRss:              20480 kB\nPss:              10240 kB\nPss_Anon:          8000 kB\n"
	os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644)
	os.WriteFile(filepath.Join(d, "smaps_rollup"), []byte(rollup), 0o644)
}

func TestCollectors(t *testing.T) {
	m := New(fakeSource{pods: []Pod{{ID: "p1", Name: "web", State: "running", VMPid: 42}, {ID: "p2", Name: "db", State: "exited"}}})
	dir := t.TempDir()
	fakeProc(t, dir, 42, 250, 50)
	// The scrape, on a fake /proc.
	sc := &scrape{src: fakeSource{pods: []Pod{{ID: "p1", Name: "web", State: "running", VMPid: 42}, {ID: "p2", Name: "db", State: "exited"}}}, proc: dir}
	want := `
# HELP hyper_pod_vm_cpu_seconds_total CPU time of the pod's QEMU process (user+system).
# TYPE hyper_pod_vm_cpu_seconds_total counter
hyper_pod_vm_cpu_seconds_total{name="web",pod="p1"} 3
# HELP hyper_pod_vm_memory_pss_bytes Proportional set size of the pod's QEMU process.
# TYPE hyper_pod_vm_memory_pss_bytes gauge
hyper_pod_vm_memory_pss_bytes{name="web",pod="p1"} 1.048576e+07
# HELP hyper_pod_vm_memory_rss_bytes Resident memory of the pod's QEMU process.
# TYPE hyper_pod_vm_memory_rss_bytes gauge
hyper_pod_vm_memory_rss_bytes{name="web",pod="p1"} 2.097152e+07
# HELP hyper_pods Pods by state.
# TYPE hyper_pods gauge
hyper_pods{state="created"} 0
hyper_pods{state="exited"} 1
hyper_pods{state="failed"} 0
hyper_pods{state="running"} 1
# HELP hyper_images Images in the store.
# TYPE hyper_images gauge
hyper_images 3
# HELP hyper_image_store_bytes Bytes the image store takes on disk.
# TYPE hyper_image_store_bytes gauge
hyper_image_store_bytes 1.048576e+06
`
	if err := testutil.CollectAndCompare(sc, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	m.PodStarted("template", 300*time.Millisecond)
	m.PodStarted("cold", 2*time.Second)
	m.PodStarted("cold", 3*time.Second)
	m.VMExited("exited")
	m.GuestRPC("ExecProcess", time.Millisecond, nil)
	m.GuestRPC("ExecProcess", time.Millisecond, errors.New("boom"))
	if n := testutil.ToFloat64(m.starts.WithLabelValues("cold")); n != 2 {
		t.Errorf("cold starts %v", n)
	}
	if n := testutil.ToFloat64(m.rpcErrors.WithLabelValues("ExecProcess")); n != 1 {
		t.Errorf("rpc errors %v", n)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, s := range []string{
		`hyper_pod_start_seconds_count{boot="cold"} 2`,
		`hyper_pod_start_seconds_count{boot="template"} 1`,
		`hyper_vm_exits_total{reason="exited"} 1`,
		`hyper_guest_rpc_seconds_count{method="ExecProcess"} 2`,
		`hyper_pods{state="running"} 1`,
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(string(body), s) {
			t.Errorf("/metrics lacks %q", s)
		}
	}
}

func TestScrapeSurvivesGoneVMAndImageError(t *testing.T) {
	m := New(fakeSource{pods: []Pod{{ID: "p1", Name: "web", State: "running", VMPid: 1 << 30}}, err: errors.New("db closed")})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `hyper_pods{state="running"} 1`) || strings.Contains(body, "hyper_pod_vm_cpu") {
		t.Fatalf("%d:\n%s", rec.Code, body)
	}
}
