package netcfg

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	i, err := Parse("02:aa:bb:cc:dd:ee", "10.0.2.15/24", "10.0.2.2", 1500)
	if err != nil || i.Address.Bits() != 24 || i.Gateway.String() != "10.0.2.2" || i.MAC.String() != "02:aa:bb:cc:dd:ee" {
		t.Fatalf("got %+v, %v", i, err)
	}
	bad := [][4]string{
		{"zz", "10.0.2.15/24", "", ""},
		{"02:aa:bb:cc:dd:ee", "10.0.2.15", "", ""},
		{"02:aa:bb:cc:dd:ee", "fd00::1/64", "", ""},
		{"02:aa:bb:cc:dd:ee", "10.0.2.15/24", "10.0.3.2", ""},
		{"02:aa:bb:cc:dd:ee", "10.0.2.15/24", "x", ""},
	}
	for _, b := range bad {
		if _, err := Parse(b[0], b[1], b[2], 0); err == nil {
			t.Errorf("Parse(%q) accepted", b)
		}
	}
	if _, err := Parse("02:aa:bb:cc:dd:ee", "10.0.2.15/24", "", 20); err == nil {
		t.Error("MTU 20 accepted")
	}
}

func TestRouteMessage(t *testing.T) {
	b := routeMessage(netip.MustParseAddr("10.0.2.2"), 7, 1)
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("parse: %v, %d messages", err, len(msgs))
	}
	m := msgs[0]
	if m.Header.Type != unix.RTM_NEWROUTE || int(m.Header.Len) != len(b) {
		t.Fatalf("header %+v", m.Header)
	}
	if m.Data[0] != unix.AF_INET || m.Data[1] != 0 || m.Data[4] != unix.RT_TABLE_MAIN {
		t.Fatalf("rtmsg % x", m.Data[:12])
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil || len(attrs) != 2 {
		t.Fatalf("attrs: %v, %d", err, len(attrs))
	}
	if attrs[0].Attr.Type != unix.RTA_GATEWAY || netip.AddrFrom4([4]byte(attrs[0].Value)).String() != "10.0.2.2" {
		t.Errorf("gateway attr %+v", attrs[0])
	}
	if attrs[1].Attr.Type != unix.RTA_OIF || binary.NativeEndian.Uint32(attrs[1].Value) != 7 {
		t.Errorf("oif attr %+v", attrs[1])
	}
}
