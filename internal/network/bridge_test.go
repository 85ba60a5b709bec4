package network

import (
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread in a new network namespace, which goes
// away with the thread.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			t.Errorf("lo: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// podRules counts the rules of Hyper's table tagged with a pod.
func podRules(t *testing.T) map[string]int {
	t.Helper()
	c, _ := nftables.New()
	n := map[string]int{}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err != nil {
		return nil // no table
	}
	for _, ch := range []string{chainPre, chainOut} {
		rules, err := c.GetRules(table, &nftables.Chain{Name: ch, Table: table})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if p, ok := rulePod(r); ok {
				n[p]++
			}
		}
	}
	return n
}

func TestBridgeAttachDetachReconcile(t *testing.T) {
	inNetns(t, func() {
		db := openDB(t)
		log := slog.New(slog.DiscardHandler)
		b, err := New(Config{Subnet: netip.MustParsePrefix("10.77.0.0/24")}, db, log)
		if err != nil {
			t.Fatal(err)
		}
		ports := []Port{{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18000, GuestPort: 80},
			{Proto: "udp", HostIP: netip.IPv4Unspecified(), HostPort: 18001, GuestPort: 53}}
		a1, err := b.Attach("pod1aaaaaaaaaaaaaaaa", ports)
		if err != nil {
			t.Fatal(err)
		}
		a2, err := b.Attach("pod2bbbbbbbbbbbbbbbb", nil)
		if err != nil {
			t.Fatal(err)
		}
		if a1.Address.String() != "10.77.0.2/24" || a2.Address.String() != "10.77.0.3/24" || a1.Gateway.String() != "10.77.0.1" {
			t.Fatalf("attachments %+v %+v", a1, a2)
		}
		tap, err := netlink.LinkByName(a1.Tap)
		if err != nil || !strings.HasPrefix(a1.Tap, "hyt") {
			t.Fatalf("tap %s: %v", a1.Tap, err)
		}
		br, _ := netlink.LinkByName(DefaultBridge)
		if br == nil || tap.Attrs().MasterIndex != br.Attrs().Index {
			t.Fatalf("tap %s not on the bridge", a1.Tap)
		}
		if n := podRules(t); n["pod1aaaaaaaaaaaaaaaa"] != 4 || n["pod2bbbbbbbbbbbbbbbb"] != 0 {
			t.Fatalf("rules %v: want 2 ports x (prerouting, output)", n)
		}
		// The published ports are held: another pod cannot take them.
		if _, err := b.Attach("pod3cccccccccccccccc", ports[:1]); err == nil || !strings.Contains(err.Error(), "already in use") {
			t.Fatalf("second publish of a port: %v", err)
		}
		if _, err := netlink.LinkByName(TapName("pod3cccccccccccccccc")); err == nil {
			t.Fatal("a failed attach left its tap")
		}
		if ls, _ := b.Leases(); len(ls) != 2 {
			t.Fatalf("a failed attach left a lease: %v", ls)
		}

		// A restarted hyperd finds only pod1 running.
		b2, _ := New(Config{Subnet: netip.MustParsePrefix("10.77.0.0/24")}, db, log)
		for _, c := range b.held["pod1aaaaaaaaaaaaaaaa"] { // the old process's sockets die with it
			c.Close()
		}
		if err := b2.Reconcile(map[string][]Port{"pod1aaaaaaaaaaaaaaaa": ports}); err != nil {
			t.Fatal(err)
		}
		if _, err := netlink.LinkByName(a2.Tap); err == nil {
			t.Fatal("the dead pod's tap is left")
		}
		if ls, _ := b2.Leases(); len(ls) != 1 || ls[0].Pod != "pod1aaaaaaaaaaaaaaaa" {
			t.Fatalf("leases after reconcile: %v", ls)
		}
		if _, err := Reserve(ports[:1]); err == nil {
			t.Fatal("the live pod's port is not held again")
		}
		if err := b2.Detach("pod1aaaaaaaaaaaaaaaa"); err != nil {
			t.Fatal(err)
		}
		if _, err := netlink.LinkByName(a1.Tap); err == nil {
			t.Fatal("tap left after detach")
		}
		if n := podRules(t); n != nil {
			t.Fatalf("table left after the last pod: %v", n)
		}
		if ls, _ := b2.Leases(); len(ls) != 0 {
			t.Fatalf("leases left: %v", ls)
		}
		if err := b2.Detach("pod1aaaaaaaaaaaaaaaa"); err != nil {
			t.Fatalf("second detach: %v", err)
		}
	})
}
