package daemon

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

func TestStartsAtBoot(t *testing.T) {
	for _, tc := range []struct {
		policy  string
		stopped bool
		want    bool
	}{
		{"", false, false}, {"never", false, false}, {"onFailure:3", false, false},
		{"always", false, true}, {"always", true, true},
		{"unlessStopped", false, true}, {"unlessStopped", true, false}, {"bogus", false, false},
	} {
		if got := startsAtBoot(tc.policy, tc.stopped); got != tc.want {
			t.Errorf("startsAtBoot(%q, %v) = %v", tc.policy, tc.stopped, got)
		}
	}
}

func TestCheckRunFlags(t *testing.T) {
	ok := []types.PodSpec{
		{StopTimeout: 30},
		{HostAliases: []types.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"db", "db.local"}}, {IP: "::1", Hostnames: []string{"v6"}}}},
		{HostAliases: []types.HostAlias{{IP: types.HostGateway, Hostnames: []string{"host"}}}},
	}
	for _, s := range ok {
		if err := checkRunFlags(s); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := []types.PodSpec{
		{StopTimeout: -1},
		{HostAliases: []types.HostAlias{{IP: "nope", Hostnames: []string{"db"}}}},
		{HostAliases: []types.HostAlias{{IP: "10.0.0.1"}}},
		{HostAliases: []types.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"bad name"}}}},
		{HostAliases: []types.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"x\n10.0.0.2 y"}}}},
		{Network: types.NetworkNone, HostAliases: []types.HostAlias{{IP: types.HostGateway, Hostnames: []string{"h"}}}},
		{HostAliases: make([]types.HostAlias, maxHostAliases+1)},
	}
	for _, s := range bad {
		if err := checkRunFlags(s); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

func TestHostAliases(t *testing.T) {
	n := podNetwork{mode: types.NetworkUser, ifaces: []protocol.Interface{{Gateway: "10.0.2.2"}}}
	got, err := n.hostAliases([]types.HostAlias{{IP: types.HostGateway, Hostnames: []string{"gw"}}, {IP: "1.2.3.4", Hostnames: []string{"a"}}})
	if err != nil || len(got) != 2 || got[0].IP != "10.0.2.2" || got[1].IP != "1.2.3.4" {
		t.Errorf("hostAliases: %+v, %v", got, err)
	}
	if _, err := (podNetwork{mode: types.NetworkNone}).hostAliases([]types.HostAlias{{IP: types.HostGateway, Hostnames: []string{"gw"}}}); err == nil {
		t.Error("host-gateway without a network")
	}
}

func TestStopGrace(t *testing.T) {
	p := &pod{}
	if g := stopGrace(p, -1); g != defaultStopGrace {
		t.Errorf("default: %v", g)
	}
	p.rec.Spec.StopTimeout = 3
	if g := stopGrace(p, -1); g != 3*time.Second {
		t.Errorf("the pod's: %v", g)
	}
	if g := stopGrace(p, 0); g != 0 {
		t.Errorf("the request's: %v", g)
	}
}

func TestParseExposed(t *testing.T) {
	for in, want := range map[string]string{"80/tcp": "80/tcp", "53/UDP": "53/udp", "8080": "8080/tcp"} {
		n, proto, err := parseExposed(in)
		if err != nil || fmt.Sprintf("%d/%s", n, proto) != want {
			t.Errorf("%q: %d %s %v", in, n, proto, err)
		}
	}
	for _, bad := range []string{"", "x/tcp", "0/tcp", "70000", "80/sctp"} {
		if _, _, err := parseExposed(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if p, err := freePort("tcp"); err != nil || p == 0 {
		t.Errorf("freePort: %d %v", p, err)
	}
}
