package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// inspect returns a pod's field by Go template.
func (h *hyperd) inspect(pod, format string) string {
	h.t.Helper()
	return strings.TrimSpace(h.ok("inspect", "--format", format, pod))
}

// leases are the bridge IPAM's leases, pod ID -> address.
func (h *hyperd) leases() map[string]string {
	h.t.Helper()
	info, err := h.client.Info(h.ctx())
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range info.Bridge.Leases {
		m[l.Pod] = l.Address
	}
	return m
}

// assertNoNetwork checks that nothing of the pods with ids is left: no
// tap, no nftables rule, no lease.
func assertNoNetwork(t *testing.T, h *hyperd, ns string, ids ...string) {
	t.Helper()
	taps, rules := netResources(t, ns)
	leases := h.leases()
	for _, id := range ids {
		for _, tap := range taps {
			if strings.HasPrefix(id, strings.TrimPrefix(tap, "hyt")) {
				t.Errorf("pod %s: tap %s left", id[:12], tap)
			}
		}
		for _, r := range rules {
			if strings.Contains(r, id) {
				t.Errorf("pod %s: rule left: %s", id[:12], r)
			}
		}
		if a, ok := leases[id]; ok {
			t.Errorf("pod %s: lease of %s left", id[:12], a)
		}
	}
}

// TestNetworkBridge: pods on the bridge get distinct addresses and reach
// each other; published ports (a single one on 127.0.0.1, a range of 3
// on all addresses, UDP) answer through DNAT, from the host's loopback
// too; hosts, resolv.conf and the NIC are set; a taken port is refused
// before the VM; rm leaves no tap, rule or lease, and the IPAM reuses the
// address.
func TestNetworkBridge(t *testing.T) {
	h, ns := newBridgeHyperd(t)
	h.loadBusybox()
	web := "mkdir -p /www && echo from-a > /www/index.html && httpd -p 80 -h /www && httpd -p 81 -h /www && httpd -f -p 82 -h /www"
	idA := strings.TrimSpace(h.ok("run", "-d", "--name", "a", "-p", "127.0.0.1:8080:80", "-p", "9000-9002:80-82",
		"-p", "127.0.0.1:5353:5000/udp", "busybox", "sh", "-c", web))
	idB := strings.TrimSpace(h.ok("run", "-d", "--name", "b", "--network", "bridge", "busybox", "sleep", "1000"))
	ipA, ipB := h.inspect("a", "{{.IPAddress}}"), h.inspect("b", "{{.IPAddress}}")
	subnet := netip.MustParsePrefix("10.88.0.0/16")
	for _, ip := range []string{ipA, ipB} {
		if a, err := netip.ParseAddr(ip); err != nil || !subnet.Contains(a) {
			t.Fatalf("pod address %q: want one of %s", ip, subnet)
		}
	}
	if ipA == ipB {
		t.Fatalf("both pods got %s", ipA)
	}
	if l := h.leases(); l[idA] != ipA || l[idB] != ipB || len(l) != 2 {
		t.Errorf("leases %v", l)
	}
	if got := h.inspect("a", "{{.Network}}"); got != types.NetworkBridge {
		t.Errorf("network = %q", got)
	}

	// Pod to pod, by address.
	waitFor(t, time.Minute, "b to reach a's httpd", func() bool {
		out, _, _ := h.run("", "exec", "b", "timeout", "10", "wget", "-q", "-O", "-", "http://"+ipA+"/")
		return strings.Contains(out, "from-a")
	})
	// The host to the pod directly, to published ports on loopback
	// (output-chain DNAT) and on the bridge's address, and each port of
	// the range.
	c := nsHTTP(ns)
	for _, url := range []string{"http://" + ipA + "/", "http://127.0.0.1:8080/", "http://10.88.0.1:9000/",
		"http://127.0.0.1:9001/", "http://10.88.0.1:9002/"} {
		if body := httpGetVia(t, c, url, time.Minute); !strings.Contains(body, "from-a") {
			t.Errorf("%s: %q", url, body)
		}
	}
	if out := h.ok("port", "a"); strings.Count(out, "->") != 5 {
		t.Errorf("port a = %q", out)
	}
	// UDP: datagrams to a's published UDP port arrive in a (busybox has
	// no UDP server: a's kernel counts them as Udp NoPorts).
	noPorts := func() int {
		f := strings.Fields(strings.Split(h.ok("exec", "a", "grep", "Udp:", "/proc/net/snmp"), "\n")[1])
		var n int
		fmt.Sscan(f[2], &n) // Udp: InDatagrams NoPorts ...
		return n
	}
	before := noPorts()
	uc, err := nsDial(ns, "udp4", "127.0.0.1:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	for range 3 {
		fmt.Fprintln(uc, "hi-udp")
	}
	// UDP is not retried: one that the path lost (a neighbour entry or
	// conntrack still being made) is sent again.
	waitFor(t, 30*time.Second, "a to count the datagrams", func() bool {
		if noPorts() >= before+3 {
			return true
		}
		fmt.Fprintln(uc, "hi-udp")
		return false
	})
	if out := nsCmd(t, ns, "nft", "list", "ruleset"); !strings.Contains(out, "udp dport 5353 dnat to "+ipA+":5000") {
		t.Errorf("no UDP DNAT rule:\n%s", out)
	}

	// The guest's network: address, MTU, default route, hosts, resolvers.
	out := h.ok("exec", "a", "sh", "-c", "ip addr; ip route; cat /etc/hosts /etc/resolv.conf")
	for _, want := range []string{"inet " + ipA + "/16", "mtu 1500", "default via 10.88.0.1", ipA + " ", " a", "nameserver "} {
		if !strings.Contains(out, want) {
			t.Errorf("guest network lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nameserver 127.") {
		t.Errorf("a loopback resolver in a bridge pod:\n%s", out)
	}

	// Taken ports: by another pod (hyperd holds them) and by a host
	// program; refused before the VM, nothing left.
	l := nsListen(t, ns, "tcp4", "127.0.0.1:7070")
	for _, p := range []string{"127.0.0.1:8080:80", "127.0.0.1:7070:80", "9001:80"} {
		_, errs, code := h.run("", "run", "--rm", "-p", p, "busybox", "true")
		if code == 0 || !strings.Contains(errs, "already in use") {
			t.Errorf("-p %s: exit %d, %q: want a port-in-use error", p, code, errs)
		}
	}
	l.Close()
	if left := podQemusUnder(h.dir); len(left) != 2 {
		t.Errorf("QEMUs: %v, want a's and b's", left)
	}
	if l := h.leases(); len(l) != 2 {
		t.Errorf("leases after refused runs: %v", l)
	}

	h.ok("rm", "-f", "a", "b")
	assertNoNetwork(t, h, ns, idA, idB)
	if out := nsCmd(t, ns, "nft", "list", "ruleset"); strings.Contains(out, "table ip hyper") {
		t.Errorf("the table is left with no pod:\n%s", out)
	}
	// The IPAM reuses a's address, the lowest.
	idC := strings.TrimSpace(h.ok("run", "-d", "--name", "c", "busybox", "sleep", "1000"))
	if ip := h.inspect("c", "{{.IPAddress}}"); ip != min(ipA, ipB) {
		t.Errorf("c got %s, want the freed %s", ip, min(ipA, ipB))
	}
	h.ok("rm", "-f", "c")
	assertNoNetwork(t, h, ns, idC)
}

// TestNetworkBridgeRecovery: a pod whose QEMU is killed, and one whose
// QEMU dies while hyperd is down (killed), leave no tap, rule or lease;
// a pod that runs on across the restart keeps its network.
func TestNetworkBridgeRecovery(t *testing.T) {
	h, ns := newBridgeHyperd(t)
	h.loadBusybox()
	web := "mkdir -p /www && echo alive > /www/index.html && httpd -f -p 80 -h /www"
	idX := strings.TrimSpace(h.ok("run", "-d", "--name", "x", "-p", "8081:80", "busybox", "sleep", "1000"))
	idY := strings.TrimSpace(h.ok("run", "-d", "--name", "y", "-p", "8082:80", "busybox", "sleep", "1000"))
	idZ := strings.TrimSpace(h.ok("run", "-d", "--name", "z", "-p", "8083:80", "busybox", "sh", "-c", web))
	pids := map[string]int{}
	for _, pod := range []string{"x", "y"} {
		var pid int
		fmt.Sscan(h.inspect(pod, "{{.VM.Pid}}"), &pid)
		pids[pod] = pid
	}
	kill := func(pod string) {
		if err := syscall.Kill(pids[pod], syscall.SIGKILL); err != nil {
			t.Fatalf("killing %s's QEMU (pid %d): %v", pod, pids[pod], err)
		}
		waitFor(t, 30*time.Second, pod+"'s QEMU to die", func() bool { return syscall.Kill(pids[pod], 0) != nil })
	}

	kill("x")
	waitFor(t, time.Minute, "x to be marked ended", func() bool { return h.inspect("x", "{{.State}}") != types.StateRunning })
	waitFor(t, 30*time.Second, "x's network to be released", func() bool { _, ok := h.leases()[idX]; return !ok })
	assertNoNetwork(t, h, ns, idX)

	// hyperd crashes; y's QEMU dies while it is down.
	h.kill9()
	kill("y")
	h.start()
	waitFor(t, time.Minute, "y to be marked ended", func() bool { return h.inspect("y", "{{.State}}") != types.StateRunning })
	assertNoNetwork(t, h, ns, idX, idY)
	if _, ok := h.leases()[idZ]; !ok {
		t.Error("z lost its lease across the restart")
	}
	if body := httpGetVia(t, nsHTTP(ns), "http://127.0.0.1:8083/", time.Minute); !strings.Contains(body, "alive") {
		t.Errorf("z's published port after the restart: %q", body)
	}
	// z's port stays held by the restarted hyperd.
	if _, errs, code := h.run("", "run", "--rm", "-p", "8083:80", "busybox", "true"); code == 0 || !strings.Contains(errs, "already in use") {
		t.Errorf("z's port taken again: exit %d %q", code, errs)
	}
	h.ok("rm", "-f", "x", "y", "z")
	assertNoNetwork(t, h, ns, idX, idY, idZ)
}

// TestPortMappingExample runs the hyperd example port-mapping.pod (its
// range 3000-3010 -> 1300-1310) in hyperd's network namespace, on the
// bridge and in user mode (hyperd works unchanged in a namespace): a line
// sent to host port 3000 reaches the pod's nc on 1300.
func TestPortMappingExample(t *testing.T) {
	h, ns := newBridgeHyperd(t)
	h.loadBusybox()
	for _, mode := range []string{"bridge", "user"} {
		h.ok("run", "-d", "--network", mode, "-p", examplePath(t, "port-mapping.pod"))
		if out := h.ok("port", "port-mapping-test"); strings.Count(out, "->") != 11 {
			t.Errorf("%s: port = %q, want 11 mappings", mode, out)
		}
		sendThroughPort(t, h, ns, "port-mapping-test", "3000")
		h.ok("rm", "-f", "port-mapping-test")
	}
}

// sendThroughPort sends a line to host port port in ns until it shows in
// the log of pod, whose nc takes one connection, prints what it got and
// exits.
func sendThroughPort(t *testing.T, h *hyperd, ns, pod, port string) {
	t.Helper()
	line := "through-" + port
	waitFor(t, time.Minute, pod+"'s nc to get a line through host port "+port, func() bool {
		if strings.Contains(h.ok("logs", pod), line) {
			return true
		}
		if c, err := nsDial(ns, "tcp4", "127.0.0.1:"+port); err == nil {
			fmt.Fprintln(c, line)
			c.Close()
		}
		return false
	})
}

// examplesDir holds the original hyperd example pod files (a copy, with
// its license note, kept with the parser's tests).
const examplesDir = "../podspec/testdata/hyperd-examples"

// examplePath is the path of a hyperd example pod file.
func examplePath(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(examplesDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("hyperd example: %v", err)
	}
	return p
}
