package vm_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/testenv"
	"github.com/hyperhq/hyper/internal/vm"
)

// BenchmarkBoot measures, interleaved in one run so they share the
// machine's state: the floor (the same kernel booting a busybox /init that
// powers off at once, QEMU start to exit), QEMU start to hyperstart ready,
// and QEMU start to the first output byte of a process in a container.
// Run with -benchtime 1x; HYPER_BENCH_RUNS sets the runs (default 10).
func BenchmarkBoot(b *testing.B) {
	env := testenv.New(b)
	runs := testenv.Runs()
	floorRD := testenv.FloorInitrd(b)
	img := testenv.BusyboxImage(b)
	var floor, ready, firstOut []time.Duration
	for i := 0; i < runs; i++ {
		floor = append(floor, testenv.BootFloor(b, env, floorRD, i))
		r, o := bootToOutput(b, env, img, i)
		ready = append(ready, r)
		firstOut = append(firstOut, o)
	}
	fmt.Printf("\nboot under %s (%s), %d runs each:\n", env.Config.Accel.Kind, env.Config.Accel.Reason, runs)
	fmt.Printf("  %-44s %8s %8s\n", "measure", "p50", "p90")
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{
		{"floor: qemu start -> busybox init powered off", floor},
		{"qemu start -> hyperstart ready", ready},
		{"qemu start -> first output in a container", firstOut},
	} {
		p50, p90 := testenv.Pct(m.d, 50), testenv.Pct(m.d, 90)
		fmt.Printf("  %-44s %6dms %6dms\n", m.name, p50.Milliseconds(), p90.Milliseconds())
	}
	fmt.Printf("  sizes: kernel %s, hyperstart initramfs %s, floor initramfs %s\n",
		size(env.Config.Kernel.Path), size(env.Config.Kernel.Initrd), size(floorRD))
	b.ReportMetric(float64(testenv.Pct(floor, 50).Milliseconds()), "floor-p50-ms")
	b.ReportMetric(float64(testenv.Pct(ready, 50).Milliseconds()), "ready-p50-ms")
	b.ReportMetric(float64(testenv.Pct(firstOut, 50).Milliseconds()), "output-p50-ms")
}

func bootToOutput(b *testing.B, env testenv.Env, img string, i int) (ready, output time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := vm.Boot(ctx, env.Config, vm.Spec{ID: fmt.Sprintf("bench%d-%d", os.Getpid(), i),
		Disks: []hypervisor.Disk{{Path: img, Serial: "img0", ReadOnly: true}}})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Shutdown(context.Background())
	ready = v.Timings.Ready.Sub(v.Timings.Start)
	g := v.Guest
	if err := g.CreatePod(ctx, protocol.PodSpec{Hostname: "bench"}); err != nil {
		b.Fatal(err)
	}
	if err := g.CreateContainer(ctx, protocol.ContainerSpec{ID: "c", Rootfs: protocol.RootfsSpec{DiskSerial: "img0"}}); err != nil {
		b.Fatal(err)
	}
	p, err := g.Exec(ctx, "c", protocol.InitExec, protocol.ProcessSpec{Args: []string{"echo", "hi"}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	go io.Copy(io.Discard, p.Stderr)
	buf := make([]byte, 1)
	if _, err := io.ReadFull(p.Stdout, buf); err != nil {
		b.Fatal(err)
	}
	output = time.Since(v.Timings.Start)
	io.Copy(io.Discard, p.Stdout)
	p.Wait(ctx)
	return ready, output
}

func size(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
}
