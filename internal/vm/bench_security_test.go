package vm_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/testenv"
	"github.com/hyperhq/hyper/internal/vm"
)

// BenchmarkExecConfinement measures what a process's confinement costs
// at start: ms from ExecProcess to the exit of `true` in a running
// container, interleaved, for a process started directly from a thread
// (no confinement), through the spawn child with nothing to confine
// (rlimits), with capabilities only (and so a Landlock domain), with a
// 400-instruction seccomp filter only, and confined as by default
// (both).
// HYPER_BENCH_RUNS sets the runs (default 10).
func BenchmarkExecConfinement(b *testing.B) {
	env := testenv.New(b)
	img := testenv.BusyboxImage(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	v, err := vm.Boot(ctx, env.Config, vm.Spec{ID: fmt.Sprintf("benchsec%d", os.Getpid()),
		Disks: []hypervisor.Disk{{Path: img, Serial: "img0", ReadOnly: true}}})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Shutdown(context.Background())
	g := v.Guest
	if err := g.CreatePod(ctx, protocol.PodSpec{Hostname: "bench"}); err != nil {
		b.Fatal(err)
	}
	if err := g.CreateContainer(ctx, protocol.ContainerSpec{ID: "c", Rootfs: protocol.RootfsSpec{DiskSerial: "img0"},
		MaskedPaths: dockerMasked, ReadonlyPaths: dockerReadonly}); err != nil {
		b.Fatal(err)
	}
	// A confined init: the confined execs are forked from its holder.
	init, err := g.Exec(ctx, "c", protocol.InitExec, defaultProcess("sleep", "3600"))
	if err != nil {
		b.Fatal(err)
	}
	defer init.Close()
	confined := defaultProcess("true")
	confined.Seccomp = allowList(400)
	filtered := protocol.ProcessSpec{Args: []string{"true"}, Seccomp: confined.Seccomp}
	kinds := []struct {
		name string
		spec protocol.ProcessSpec
		d    []time.Duration
	}{
		{"direct (no confinement)", protocol.ProcessSpec{Args: []string{"true"}}, nil},
		{"spawn child (rlimits only)", protocol.ProcessSpec{Args: []string{"true"},
			Rlimits: []protocol.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}}}, nil},
		{"spawn child, Docker's capabilities", defaultProcess("true"), nil},
		{"spawn child, seccomp filter only", filtered, nil},
		{"spawn child, default confinement", confined, nil},
	}
	runs := testenv.Runs()
	seq := 0
	for i := 0; i < runs+1; i++ { // the first round warms up
		for k := range kinds {
			seq++
			start := time.Now()
			p, err := g.Exec(ctx, "c", fmt.Sprintf("b%d", seq), kinds[k].spec)
			if err != nil {
				b.Fatal(err)
			}
			drain(p)
			if st, err := p.Wait(ctx); err != nil || st.Code != 0 {
				b.Fatalf("%s: %+v %v", kinds[k].name, st, err)
			}
			p.Close()
			if i > 0 {
				kinds[k].d = append(kinds[k].d, time.Since(start))
			}
		}
	}
	fmt.Printf("\nexec to exit of `true` under %s, %d runs each:\n", env.Config.Accel.Kind, runs)
	for _, k := range kinds {
		p50, p90 := testenv.Pct(k.d, 50), testenv.Pct(k.d, 90)
		fmt.Printf("  %-34s %6.1fms %6.1fms\n", k.name, ms(p50), ms(p90))
	}
	b.ReportMetric(ms(testenv.Pct(kinds[0].d, 50)), "direct-p50-ms")
	b.ReportMetric(ms(testenv.Pct(kinds[1].d, 50)), "spawn-p50-ms")
	b.ReportMetric(ms(testenv.Pct(kinds[len(kinds)-1].d, 50)), "confined-p50-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func drain(p *guest.Process) {
	io.Copy(io.Discard, p.Stdout)
	if p.Stderr != nil {
		io.Copy(io.Discard, p.Stderr)
	}
}

// allowList is a seccomp program of n instructions as costly as a
// compiled profile's linear search: every syscall is compared with
// (n-2)/2 numbers no syscall has, then allowed.
func allowList(n int) *protocol.SeccompFilter {
	var b []byte
	add := func(code uint16, jt, jf uint8, k uint32) {
		b = binary.LittleEndian.AppendUint16(b, code)
		b = append(b, jt, jf)
		b = binary.LittleEndian.AppendUint32(b, k)
	}
	add(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, 0)
	for i := 0; i < (n-2)/2; i++ {
		add(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 1, uint32(100000+i))
		add(unix.BPF_RET|unix.BPF_K, 0, 0, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))
	}
	add(unix.BPF_RET|unix.BPF_K, 0, 0, unix.SECCOMP_RET_ALLOW)
	return &protocol.SeccompFilter{Program: b}
}
