package daemon

import (
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/hypervisor"
)

func TestIsolationIsHonest(t *testing.T) {
	if i := isolation(hypervisor.AccelKVM); !i.SecurityBoundary || i.Mechanism != "hardware virtualization" {
		t.Errorf("kvm: %+v", i)
	}
	i := isolation(hypervisor.AccelTCG)
	if i.SecurityBoundary || i.Mechanism != "software emulation" || !strings.Contains(i.Note, "qemu.org/docs/master/system/security.html") {
		t.Errorf("tcg: %+v", i)
	}
	if i := isolation("xen"); i.SecurityBoundary {
		t.Errorf("unknown: %+v", i)
	}
}
