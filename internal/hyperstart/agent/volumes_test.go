package agent

import (
	"testing"

	"github.com/hyperhq/hyper/internal/protocol"
)

func TestValidateMounts(t *testing.T) {
	ok := []protocol.Mount{
		{Kind: protocol.MountDisk, Source: "v-0123456789abcdef01", Path: "/data"},
		{Kind: protocol.MountShare, Source: "logs", Path: "/var/log", ReadOnly: true},
		{Kind: protocol.MountScratch, Source: "cache", Path: "/cache", FSType: "tmpfs", SizeMB: 16},
		{Kind: protocol.MountScratch, Source: "tmp", Path: "/etc/x.conf"},
	}
	if err := validateMounts(ok); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]protocol.Mount{
		"relative":   {Kind: protocol.MountDisk, Source: "v", Path: "data"},
		"root":       {Kind: protocol.MountDisk, Source: "v", Path: "/"},
		"unclean":    {Kind: protocol.MountDisk, Source: "v", Path: "/a/../proc"},
		"proc":       {Kind: protocol.MountDisk, Source: "v", Path: "/proc"},
		"sys child":  {Kind: protocol.MountDisk, Source: "v", Path: "/sys/kernel"},
		"dev":        {Kind: protocol.MountShare, Source: "v", Path: "/dev/x"},
		"bad source": {Kind: protocol.MountShare, Source: "../etc", Path: "/x"},
		"kind":       {Kind: "nfs", Source: "v", Path: "/x"},
		"fstype":     {Kind: protocol.MountDisk, Source: "v", Path: "/x", FSType: "xfs"},
	} {
		if err := validateMounts([]protocol.Mount{m}); err == nil {
			t.Errorf("%s: accepted %+v", name, m)
		}
	}
	twice := []protocol.Mount{ok[0], {Kind: protocol.MountShare, Source: "s", Path: "/data"}}
	if err := validateMounts(twice); err == nil {
		t.Error("one path mounted twice accepted")
	}
}
