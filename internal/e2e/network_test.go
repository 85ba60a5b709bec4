package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// httpGet fetches url until it answers 200, for at most d.
func httpGet(t *testing.T, url string, d time.Duration) string {
	t.Helper()
	return httpGetVia(t, &http.Client{Timeout: 3 * time.Second}, url, d)
}

// httpGetVia is httpGet with client c.
func httpGetVia(t *testing.T, c *http.Client, url string, d time.Duration) string {
	t.Helper()
	var last error
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			return string(b)
		}
		last = fmt.Errorf("status %s, %v", resp.Status, err)
	}
	t.Fatalf("GET %s: no answer within %v: %v", url, d, last)
	return ""
}

// freePorts finds n consecutive free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for base := 20000 + int(time.Now().UnixNano()%20000); base < 60000; base += n {
		var ls []net.Listener
		for i := range n {
			l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == n {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// TestNetworkPublish: a published port reaches the pod's httpd; the pod
// reaches a server on the host's loopback through 10.0.2.2; a range of
// ports works; DNS defaults to slirp's.
func TestNetworkPublish(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()

	// A server on the host's loopback, for the pod to reach.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hostPort := l.Addr().(*net.TCPAddr).Port
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "pong\n")
		got <- line
	}()

	web := "mkdir -p /www && echo hello-from-pod > /www/index.html && httpd -f -p 80 -h /www"
	id := strings.TrimSpace(h.ok("run", "-d", "--name", "web", "-p", "127.0.0.1:18080:80", "busybox", "sh", "-c", web))
	if body := httpGet(t, "http://127.0.0.1:18080/", time.Minute); !strings.Contains(body, "hello-from-pod") {
		t.Fatalf("body = %q", body)
	}
	if out := h.ok("port", "web"); strings.TrimSpace(out) != "80/tcp -> 127.0.0.1:18080" {
		t.Errorf("port web = %q", out)
	}
	if out := h.ok("port", id, "80"); strings.TrimSpace(out) != "127.0.0.1:18080" {
		t.Errorf("port web 80 = %q", out)
	}
	if out := h.ok("inspect", "--format", "{{.Network}} {{len .Ports}}", "web"); strings.TrimSpace(out) != "user 1" {
		t.Errorf("inspect network, ports = %q", out)
	}

	// Outbound: the host's loopback is 10.0.2.2 from the guest.
	out := h.ok("exec", "web", "sh", "-c", fmt.Sprintf("echo ping | nc -w 10 10.0.2.2 %d", hostPort))
	if !strings.Contains(out, "pong") {
		t.Errorf("nc to the host said %q", out)
	}
	select {
	case line := <-got:
		if strings.TrimSpace(line) != "ping" {
			t.Errorf("host server got %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Error("the host server got no connection from the pod")
	}
	out = h.ok("exec", "web", "sh", "-c", "cat /etc/resolv.conf; ip addr; ip route")
	for _, want := range []string{"nameserver 10.0.2.3", "inet 10.0.2.15/24", "default via 10.0.2.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("guest network lacks %q:\n%s", want, out)
		}
	}
	// The NIC announces its address when it comes up (a restored guest
	// has a new MAC; its peer may still hold the template's).
	if out := h.ok("exec", "--vm", "web", "cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify"); strings.TrimSpace(out) != "1" {
		t.Errorf("arp_notify on the pod's NIC = %q, want 1", out)
	}
	h.ok("rm", "-f", "web")

	// A range of three ports, each served by its own httpd.
	base := freePorts(t, 3)
	cmd := "mkdir -p /www && echo range > /www/index.html && httpd -p 80 -h /www && httpd -p 81 -h /www && httpd -f -p 82 -h /www"
	h.ok("run", "-d", "--name", "ranged", "-p", fmt.Sprintf("127.0.0.1:%d-%d:80-82", base, base+2), "busybox", "sh", "-c", cmd)
	for i := range 3 {
		if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", base+i), time.Minute); !strings.Contains(body, "range") {
			t.Errorf("port %d: body %q", base+i, body)
		}
	}
	if out := h.ok("port", "ranged"); strings.Count(out, "->") != 3 {
		t.Errorf("port ranged = %q", out)
	}
}

// TestNetworkPortInUse: a host port already taken fails before the VM
// starts, clearly, and leaves no VM behind.
func TestNetworkPortInUse(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	for _, args := range [][]string{
		{"run", "--rm", "--name", "busy", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "true"},
		{"run", "-d", "--name", "busy", "-p", fmt.Sprintf("%d:80", port), "busybox", "true"},
	} {
		out, errs, code := h.run("", args...)
		if code == 0 || !strings.Contains(errs, "already in use") {
			t.Fatalf("%v: exit %d, out %q, err %q: want a port-in-use error", args, code, out, errs)
		}
		t.Logf("%v: %s", args, errs)
	}
	// Taken after the pod was created: starting it fails before the VM
	// boots.
	l.Close()
	id := strings.TrimSpace(h.ok("create", "--name", "late", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "true"))
	l, err = net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, errs, code := h.run("", "start", id); code == 0 || !strings.Contains(errs, "already in use") {
		t.Fatalf("start: exit %d, %q: want a port-in-use error", code, errs)
	}
	if left := podQemusUnder(h.dir); len(left) > 0 {
		t.Errorf("QEMU left running: %v", left)
	}
	h.ok("rm", id)
	if left := podQemusUnder(h.dir); len(left) > 0 {
		t.Errorf("QEMU left running: %v", left)
	}
	if ps := h.ok("ps", "-a", "-q"); strings.TrimSpace(ps) != "" {
		t.Errorf("pods left: %q", ps)
	}
}

// TestNetworkNone: --network none has only loopback.
func TestNetworkNone(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	out := h.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1")
	if strings.Join(strings.Fields(out), " ") != "lo" {
		t.Fatalf("interfaces = %q, want only lo", out)
	}
	// The default (user) has lo and one NIC.
	out = h.ok("run", "--rm", "busybox", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1")
	if len(strings.Fields(out)) != 2 {
		t.Fatalf("interfaces = %q, want lo and one NIC", out)
	}
	_, errs, code := h.run("", "run", "--rm", "--network", "none", "-p", "18081:80", "busybox", "true")
	if code == 0 || !strings.Contains(errs, "cannot publish") {
		t.Errorf("none with -p: exit %d, %q", code, errs)
	}
}
