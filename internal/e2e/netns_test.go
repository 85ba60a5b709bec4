package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newNetns creates a network namespace (lo up) for one test, deleted when
// the test ends, after its hyperd (register it first).
func newNetns(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	ns := "hyt" + hex.EncodeToString(b)
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s (bridge tests need root and iproute2)", args, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	return ns
}

// newBridgeHyperd starts hyperd in a new network namespace with bridge as
// its default network mode.
func newBridgeHyperd(t testing.TB) (*hyperd, string) {
	t.Helper()
	ns := newNetns(t)
	return newHyperdIn(t, "network = \"bridge\"\n", ns), ns
}

// inNetns runs fn on a thread that has joined ns; sockets fn creates stay
// in ns. The thread is not reused afterwards.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// nsDial connects to addr from inside ns.
func nsDial(ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() (err error) {
		c, err = net.DialTimeout(network, addr, 10*time.Second)
		return err
	})
	return c, err
}

// nsListen listens on addr inside ns.
func nsListen(t testing.TB, ns, network, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := inNetns(ns, func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// nsHTTP is an HTTP client whose connections start inside ns.
func nsHTTP(ns string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nsDial(ns, network, addr)
		}}}
}

// nsCmd runs a command inside ns and returns its output.
func nsCmd(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v in %s: %v: %s", args, ns, err, out)
	}
	return string(out)
}

// netResources lists what ns holds of pods: tap devices and the rules of
// Hyper's nftables table (empty when the table is gone).
func netResources(t testing.TB, ns string) (taps []string, rules []string) {
	t.Helper()
	for _, line := range strings.Split(nsCmd(t, ns, "ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "hyt") {
			taps = append(taps, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	for _, line := range strings.Split(nsCmd(t, ns, "nft", "list", "ruleset"), "\n") {
		if strings.Contains(line, "hyper pod ") {
			rules = append(rules, strings.TrimSpace(line))
		}
	}
	return taps, rules
}
