package sandbox

import "testing"

func TestParseHostCost(t *testing.T) {
	stat := []byte("4545 (qemu-system-x86) (odd) S 1 4545 4545 0 -1 4194560 5000 0 0 0 70 7 0 0 20 0 3 0 100 1000 2000\n")
	if got := parseProcStatCPU(stat); got != 770_000_000 {
		t.Errorf("cpu of %q: %d", stat, got)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 a b 0"} {
		if got := parseProcStatCPU([]byte(bad)); got != 0 {
			t.Errorf("cpu of %q: %d", bad, got)
		}
	}
	if got := parseRss([]byte("55d0-7ffc ---p 00000000 00:00 0 [rollup]\nRss:              105160 kB\nPss: 1 kB\n")); got != 105160<<10 {
		t.Errorf("rss: %d", got)
	}
}
