package e2e

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/testenv"
)

// benchSize is what the throughput measures send.
const benchSize = 32 << 20

// BenchmarkNetwork measures, per network mode, what the networking issue
// asks: TCP throughput host->pod and pod->host (user mode; none has no
// path), and the start latency each mode adds (`run --rm true`, interleaved).
func BenchmarkNetwork(b *testing.B) {
	h := newHyperd(b)
	h.loadBusybox()
	h.ok("run", "--rm", "busybox", "true") // warm-up: rootfs built once
	lat := startLatency(h, "user", "none")
	// pod -> host: the pod sends to a server on the host's loopback,
	// reached from the guest at 10.0.2.2.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	up := podToHost(h, l, "10.0.2.2", "user")
	down := hostToPod(h, "user", func() (net.Conn, error) { return net.Dial("tcp", "127.0.0.1:18090") })
	report(b, h, "user", lat, up, down)
}

// BenchmarkNetworkBridge is BenchmarkNetwork for bridge mode, with hyperd
// in a network namespace of its own: the pod sends to a server on the
// bridge's address; the host sends to a published port on 127.0.0.1
// (output-chain DNAT).
func BenchmarkNetworkBridge(b *testing.B) {
	h, ns := newBridgeHyperd(b)
	h.loadBusybox()
	h.ok("run", "--rm", "busybox", "true") // warm-up: rootfs and bridge made once
	lat := startLatency(h, "bridge", "none")
	l := nsListen(b, ns, "tcp4", "10.88.0.1:0")
	up := podToHost(h, l, "10.88.0.1", "bridge")
	down := hostToPod(h, "bridge", func() (net.Conn, error) { return nsDial(ns, "tcp4", "127.0.0.1:18090") })
	report(b, h, "bridge", lat, up, down)
}

// startLatency times `run --rm --network MODE busybox true` per mode,
// interleaved.
func startLatency(h *hyperd, modes ...string) map[string][]time.Duration {
	d := map[string][]time.Duration{}
	for range testenv.Runs() {
		for _, m := range modes {
			start := time.Now()
			h.ok("run", "--rm", "--network", m, "busybox", "true")
			d[m] = append(d[m], time.Since(start))
		}
	}
	return d
}

// podToHost times benchSize bytes a pod sends to l, which it reaches at
// hostIP.
func podToHost(h *hyperd, l net.Listener, hostIP, mode string) time.Duration {
	port := l.Addr().(*net.TCPAddr).Port
	got := make(chan time.Duration, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		start := time.Now()
		io.Copy(io.Discard, c)
		got <- time.Since(start)
	}()
	h.ok("run", "--rm", "--network", mode, "busybox", "sh", "-c", fmt.Sprintf("head -c %d /dev/zero | nc %s %d", benchSize, hostIP, port))
	return <-got
}

// hostToPod times benchSize bytes sent through dial to a pod listening
// on published port 18090; the time ends when the pod has counted all of
// it. The connection is made once the pod listens (busybox nc takes one
// connection, and slirp accepts before the guest does).
func hostToPod(h *hyperd, mode string, dial func() (net.Conn, error)) time.Duration {
	id := strings.TrimSpace(h.ok("run", "-d", "--network", mode, "-p", "127.0.0.1:18090:9000", "busybox", "sh", "-c", "nc -l -p 9000 | wc -c"))
	defer h.run("", "rm", "-f", id)
	waitFor(h.t, 60*time.Second, "the sink to listen", func() bool {
		_, _, code := h.run("", "exec", id, "sh", "-c", "netstat -ltn | grep -q ':9000 '")
		return code == 0
	})
	c, err := dial()
	if err != nil {
		h.t.Fatalf("connecting to the sink: %v", err)
	}
	start := time.Now()
	io.CopyN(c, zeroReader{}, benchSize)
	c.Close()
	waitFor(h.t, 5*time.Minute, "the sink to count", func() bool {
		p, err := h.client.GetPod(h.ctx(), id)
		return err == nil && p.State != types.StateRunning
	})
	d := time.Since(start)
	if n := strings.TrimSpace(h.ok("logs", id)); n != fmt.Sprint(benchSize) {
		h.t.Fatalf("the pod received %q bytes, want %d", n, benchSize)
	}
	return d
}

// report prints a mode's figures against none's.
func report(b *testing.B, h *hyperd, mode string, lat map[string][]time.Duration, up, down time.Duration) {
	mb := float64(benchSize) / (1 << 20)
	fmt.Printf("\nnetwork (%s) under %s, %d runs each for latency, %d MiB for throughput:\n", mode, h.env.Config.Accel.Kind, len(lat["none"]), benchSize>>20)
	fmt.Printf("  %-44s %8s %8s\n", "measure", "p50", "p90")
	for _, m := range []string{"none", mode} {
		fmt.Printf("  %-44s %6dms %6dms\n", "run --rm --network "+m+" busybox true", testenv.Pct(lat[m], 50).Milliseconds(), testenv.Pct(lat[m], 90).Milliseconds())
	}
	fmt.Printf("  %s mode adds %d ms (p50)\n", mode, (testenv.Pct(lat[mode], 50) - testenv.Pct(lat["none"], 50)).Milliseconds())
	fmt.Printf("  TCP pod -> host (%s): %.1f MiB/s\n", mode, mb/up.Seconds())
	fmt.Printf("  TCP host -> pod (%s, published port; until received): %.1f MiB/s\n", mode, mb/down.Seconds())
	b.ReportMetric(mb/up.Seconds(), "up-MiB/s")
	b.ReportMetric(mb/down.Seconds(), "down-MiB/s")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
