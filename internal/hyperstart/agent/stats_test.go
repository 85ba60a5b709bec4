package agent

import "testing"

func TestParseNetDevMeminfo(t *testing.T) {
	dev := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    1500      10    1    2    0     0          0         0     2000      20    3    4    0     0       0          0
 short: 1 2 3
`)
	n := parseNetDev(dev)
	if len(n) != 1 || n[0].Name != "eth0" || n[0].RxBytes != 1500 || n[0].RxPackets != 10 || n[0].RxErrors != 1 ||
		n[0].RxDropped != 2 || n[0].TxBytes != 2000 || n[0].TxPackets != 20 || n[0].TxErrors != 3 || n[0].TxDropped != 4 {
		t.Errorf("net/dev: %+v", n)
	}
	total, avail := parseMeminfo([]byte("MemTotal:         243808 kB\nMemFree: 1 kB\nMemAvailable:     206588 kB\n"))
	if total != 243808<<10 || avail != 206588<<10 {
		t.Errorf("meminfo: %d %d", total, avail)
	}
}

func TestParseStat(t *testing.T) {
	line := []byte("42 (my (odd) cmd) S 1 42 42 34816 42 4194560 100 0 0 0 150 50 0 0 20 0 1 0 500 4096000 300 18446744073709551615\n")
	p, ok := parseStat(42, line)
	if !ok || p.Cmd != "[my (odd) cmd]" || p.State != "S" || p.PPid != 1 || p.TTY != "pts/0" ||
		p.CPUNanos != 2e9 || p.StartNanos != 5e9 || p.VSZBytes != 4096000 || p.RSSBytes == 0 {
		t.Errorf("parseStat: %+v %v", p, ok)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1"} {
		if _, ok := parseStat(1, []byte(bad)); ok {
			t.Errorf("parseStat(%q) ok", bad)
		}
	}
	if statusUID([]byte("Name:\tx\nUid:\t1000\t1000\t1000\t1000\n")) != 1000 {
		t.Error("statusUID")
	}
}
