package sysctl

import (
	"path"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	ok := []struct{ k, v string }{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net/ipv4/conf/eth0.100/forwarding", "1"},
		{"kernel.shmmax", "68719476736"},
		{"kernel.sem", "250 32000 32 128"},
		{"kernel.msgmnb", "65536"},
		{"fs.mqueue.msg_max", "20"},
	}
	for _, c := range ok {
		if err := Check(c.k, c.v); err != nil {
			t.Errorf("Check(%q, %q): %v", c.k, c.v, err)
		}
	}
	bad := []struct{ k, v, want string }{
		{"vm.swappiness", "1", "not namespaced"},
		{"kernel.hostname", "x", "not namespaced"},
		{"kernel.shmmaxx", "1", "not namespaced"},
		{"fs.file-max", "1", "not namespaced"},
		{"net", "1", "not namespaced"},
		{"fs.mqueue", "1", "not namespaced"},
		{"", "1", "empty"},
		{"net..ipv4", "1", "bad sysctl name"},
		{"net/../../etc/passwd", "1", "bad sysctl name"},
		{"net.ipv4.ip forward", "1", "not allowed"},
		{"net.ipv4.ip_forward", "1\n2", "control character"},
		{"net.ipv4.ip_forward", strings.Repeat("1", MaxValueLen+1), "longer than"},
	}
	for _, c := range bad {
		err := Check(c.k, c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%q, %q) = %v, want an error with %q", c.k, c.v, err, c.want)
		}
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"net.ipv4.ip_forward":                "net/ipv4/ip_forward",
		"net/ipv4/ip_forward":                "net/ipv4/ip_forward",
		"/net/ipv4/conf/eth0.100/forwarding": "net/ipv4/conf/eth0.100/forwarding",
		"fs.mqueue.queues_max":               "fs/mqueue/queues_max",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCheck: a key that passes Check names a file below /proc/sys, never
// above it (the guest writes /proc/sys/Key(key)).
func FuzzCheck(f *testing.F) {
	for _, k := range []string{"net.ipv4.ip_forward", "net/../kernel/x", "fs/mqueue/../../etc", "net/ipv4/conf/eth0.100/forwarding", "kernel.sem"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if Check(key, "1") != nil {
			return
		}
		p := path.Clean("/proc/sys/" + Key(key))
		if !strings.HasPrefix(p, "/proc/sys/net/") && !strings.HasPrefix(p, "/proc/sys/kernel/") && !strings.HasPrefix(p, "/proc/sys/fs/mqueue/") || p != "/proc/sys/"+Key(key) {
			t.Fatalf("%q passes Check but is %s", key, p)
		}
	})
}
