package network

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/store"
)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestIPAM(t *testing.T) {
	db := openDB(t)
	m, err := NewIPAM(db, netip.MustParsePrefix("10.9.0.7/29")) // 10.9.0.0-7
	if err != nil {
		t.Fatal(err)
	}
	if m.Gateway().String() != "10.9.0.1" || m.Subnet().String() != "10.9.0.0/29" {
		t.Fatalf("gateway %s subnet %s", m.Gateway(), m.Subnet())
	}
	got := map[string]string{}
	for _, pod := range []string{"a", "b", "c", "d", "e"} {
		a, err := m.Allocate(pod)
		if err != nil {
			t.Fatalf("allocate %s: %v", pod, err)
		}
		if prev, dup := got[a.String()]; dup {
			t.Fatalf("%s given to %s and %s", a, prev, pod)
		}
		got[a.String()] = pod
	}
	if got["10.9.0.2"] != "a" || got["10.9.0.6"] != "e" {
		t.Fatalf("leases %v: want .2-.6 in order (not the gateway nor the broadcast)", got)
	}
	if _, err := m.Allocate("f"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("full subnet: %v", err)
	}
	if a, err := m.Allocate("c"); err != nil || a.String() != "10.9.0.4" {
		t.Fatalf("again for c: %s %v", a, err)
	}
	if err := m.Release("b"); err != nil {
		t.Fatal(err)
	}
	if err := m.Release("b"); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if a, err := m.Allocate("f"); err != nil || a.String() != "10.9.0.3" {
		t.Fatalf("after release: %s %v, want b's 10.9.0.3 reused", a, err)
	}
	// The leases are state: a new IPAM over the same database sees them.
	m2, _ := NewIPAM(db, netip.MustParsePrefix("10.9.0.0/29"))
	ls, err := m2.Leases()
	if err != nil || len(ls) != 5 {
		t.Fatalf("leases after reopen: %v %v", ls, err)
	}
	if _, err := m2.Allocate("g"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("reopened full subnet: %v", err)
	}
}

func TestIPAMBadSubnet(t *testing.T) {
	for _, s := range []string{"10.0.0.0/31", "fd00::/64"} {
		if _, err := NewIPAM(openDB(t), netip.MustParsePrefix(s)); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestHostResolv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	write := func(s string) {
		if err := writeFile(p, s); err != nil {
			t.Fatal(err)
		}
	}
	write("# x\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch a.example b.example\noptions ndots:2 edns0\n")
	r := HostResolv(p)
	if len(r.Servers) != 1 || r.Servers[0] != "192.0.2.1" || len(r.Search) != 2 || len(r.Options) != 2 {
		t.Fatalf("%+v", r)
	}
	write("nameserver 127.0.0.53\n")
	if r := HostResolv(p); len(r.Servers) != 2 || r.Servers[0] != FallbackServers[0] {
		t.Fatalf("loopback only: %+v", r)
	}
	if r := HostResolv(filepath.Join(t.TempDir(), "none")); len(r.Servers) != 2 {
		t.Fatalf("missing: %+v", r)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
