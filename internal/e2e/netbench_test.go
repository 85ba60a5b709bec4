package e2e

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/testenv"
)

// BenchmarkNetwork measures, per network mode, what the networking issue
// asks: TCP throughput host->pod and pod->host (user mode; none has no
// path), and the start latency each mode adds (`run --rm true`, interleaved).
func BenchmarkNetwork(b *testing.B) {
	h := newHyperd(b)
	h.loadBusybox()
	h.ok("run", "--rm", "busybox", "true") // warm-up: rootfs built once
	runs := testenv.Runs()
	var user, none []time.Duration
	for i := 0; i < runs; i++ {
		for _, m := range []struct {
			mode string
			d    *[]time.Duration
		}{{"user", &user}, {"none", &none}} {
			start := time.Now()
			h.ok("run", "--rm", "--network", m.mode, "busybox", "true")
			*m.d = append(*m.d, time.Since(start))
		}
	}
	const size = 32 << 20
	// pod -> host: the pod sends to a server on the host's loopback,
	// reached from the guest at 10.0.2.2.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
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
	h.ok("run", "--rm", "busybox", "sh", "-c", fmt.Sprintf("head -c %d /dev/zero | nc 10.0.2.2 %d", size, port))
	up := <-got
	// host -> pod: the pod listens on a published port and counts what
	// it received; the time ends when it has all of it.
	counted := make(chan string, 1)
	go func() {
		out, _, _ := h.run("", "run", "--rm", "-p", "127.0.0.1:18090:9000", "busybox", "sh", "-c", "nc -l -p 9000 | wc -c")
		counted <- strings.TrimSpace(out)
	}()
	var c net.Conn
	waitFor(b, 60*time.Second, "the sink to listen", func() bool {
		c, err = net.Dial("tcp", "127.0.0.1:18090")
		if err != nil {
			return false
		}
		// slirp accepts before the guest does; a write shows the path is up.
		if _, err = c.Write([]byte{0}); err != nil {
			c.Close()
			return false
		}
		return true
	})
	start := time.Now()
	io.CopyN(c, zeroReader{}, size)
	c.Close()
	n := <-counted
	down := time.Since(start)
	if n != fmt.Sprint(size+1) {
		b.Fatalf("the pod received %q bytes, want %d", n, size+1)
	}
	mb := float64(size) / (1 << 20)
	fmt.Printf("\nnetwork under %s, %d runs each for latency, %d MiB for throughput:\n", h.env.Config.Accel.Kind, runs, size>>20)
	fmt.Printf("  %-44s %8s %8s\n", "measure", "p50", "p90")
	fmt.Printf("  %-44s %6dms %6dms\n", "run --rm --network none busybox true", testenv.Pct(none, 50).Milliseconds(), testenv.Pct(none, 90).Milliseconds())
	fmt.Printf("  %-44s %6dms %6dms\n", "run --rm --network user busybox true", testenv.Pct(user, 50).Milliseconds(), testenv.Pct(user, 90).Milliseconds())
	fmt.Printf("  user mode adds %d ms (p50)\n", (testenv.Pct(user, 50) - testenv.Pct(none, 50)).Milliseconds())
	fmt.Printf("  TCP pod -> host (user): %.1f MiB/s\n", mb/up.Seconds())
	fmt.Printf("  TCP host -> pod (user, published port; until received): %.1f MiB/s\n", mb/down.Seconds())
	b.ReportMetric(mb/up.Seconds(), "up-MiB/s")
	b.ReportMetric(mb/down.Seconds(), "down-MiB/s")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
