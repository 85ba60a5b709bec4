package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/testenv"
)

// BenchmarkRun measures, interleaved in one run: `hyperctl run --rm
// busybox true` wall time with a VM restored from a template (the default)
// and with a cold-booted VM (a second hyperd with [vm] template = false),
// the boot floor (same kernel, a busybox /init that powers off at once),
// `hyperctl exec POD true` latency, and the PSS of one idle pod (QEMU,
// plus what hyperd grew by). With $HYPER_BENCH_BASE (a hyperd binary built
// from an earlier revision: make bench BENCH_BASE=REV) the same run is
// measured with that hyperd too, interleaved. Run with -benchtime 1x.
func BenchmarkRun(b *testing.B) {
	h := newHyperd(b)
	h.loadBusybox()
	cold := newHyperdConfig(b, "[vm]\ntemplate = false\n")
	cold.loadBusybox()
	var base *hyperd
	if bin := os.Getenv("HYPER_BENCH_BASE"); bin != "" {
		base = launch(b, &hyperd{bin: bin})
		base.loadBusybox()
		base.ok("run", "--rm", "busybox", "true")
	}
	env := h.env
	floorRD := testenv.FloorInitrd(b)
	// The image's rootfs is built once, and the template, not measured.
	h.ok("run", "--rm", "busybox", "true")
	cold.ok("run", "--rm", "busybox", "true")
	runs := testenv.Runs()
	var run, coldRun, baseRun, floor, execs []time.Duration
	timed := func(h *hyperd, into *[]time.Duration) {
		start := time.Now()
		h.ok("run", "--rm", "busybox", "true")
		*into = append(*into, time.Since(start))
	}
	for i := 0; i < runs; i++ {
		floor = append(floor, testenv.BootFloor(b, env, floorRD, i))
		timed(h, &run)
		timed(cold, &coldRun)
		if base != nil {
			timed(base, &baseRun)
		}
	}
	hyperdBefore, _ := testenv.PSSKiB(h.cmd.Process.Pid)
	h.ok("run", "-d", "--name", "idle", "busybox", "sleep", "100000")
	for i := 0; i < runs; i++ {
		start := time.Now()
		h.ok("exec", "idle", "true")
		execs = append(execs, time.Since(start))
	}
	time.Sleep(2 * time.Second)
	pod, err := h.client.GetPod(h.ctx(), "idle")
	if err != nil {
		b.Fatal(err)
	}
	qemuPSS, err := testenv.PSSKiB(pod.VM.Pid)
	if err != nil {
		b.Fatal(err)
	}
	hyperdAfter, _ := testenv.PSSKiB(h.cmd.Process.Pid)
	fmt.Printf("\nhyperctl under %s, %d runs each:\n", env.Config.Accel.Kind, runs)
	fmt.Printf("  %-46s %8s %8s\n", "measure", "p50", "p90")
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{
		{"floor: qemu start -> busybox init powered off", floor},
		{"hyperctl run --rm busybox true (template)", run},
		{"hyperctl run --rm busybox true (cold VM)", coldRun},
		{"hyperctl exec POD true", execs},
	} {
		fmt.Printf("  %-46s %6dms %6dms\n", m.name, testenv.Pct(m.d, 50).Milliseconds(), testenv.Pct(m.d, 90).Milliseconds())
	}
	ratio := float64(testenv.Pct(run, 50)) / float64(testenv.Pct(floor, 50))
	fmt.Printf("  run p50 / floor p50 = %.2fx (cold VM: %.2fx)\n", ratio, float64(testenv.Pct(coldRun, 50))/float64(testenv.Pct(floor, 50)))
	if base != nil {
		baseRatio := float64(testenv.Pct(baseRun, 50)) / float64(testenv.Pct(floor, 50))
		fmt.Printf("  %-46s %6dms %6dms\n", "run --rm busybox true (baseline hyperd)", testenv.Pct(baseRun, 50).Milliseconds(), testenv.Pct(baseRun, 90).Milliseconds())
		fmt.Printf("  baseline run p50 / floor p50 = %.2fx (this hyperd %.2fx)\n", baseRatio, ratio)
		b.ReportMetric(baseRatio, "base-run/floor")
	}
	fmt.Printf("  idle pod PSS: qemu %d KiB + hyperd growth %d KiB (hyperd total %d KiB)\n",
		qemuPSS, hyperdAfter-hyperdBefore, hyperdAfter)
	b.ReportMetric(float64(testenv.Pct(run, 50).Milliseconds()), "run-p50-ms")
	b.ReportMetric(float64(testenv.Pct(coldRun, 50).Milliseconds()), "cold-run-p50-ms")
	b.ReportMetric(ratio, "run/floor")
	b.ReportMetric(float64(qemuPSS), "qemu-pss-KiB")
}
