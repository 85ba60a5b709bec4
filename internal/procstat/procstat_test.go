package procstat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for in, want := range map[string]uint64{
		"1 (a) S 1 1 1 0 -1 0 0 0 0 0 7 5 0 0":                                                                 12,
		"1 (a b) c)) S 1 1 1 0 -1 0 0 0 0 0 100 1 0 0":                                                         101,
		"4545 (qemu-system-x86) (odd) S 1 4545 4545 0 -1 4194560 5000 0 0 0 70 7 0 0 20 0 3 0 100 1000 2000\n": 77,
	} {
		if got, err := ParseStatCPU([]byte(in)); err != nil || got != want {
			t.Errorf("%q: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "1 a S", "1 (x", "1 (a) S 1 2", "1 (a) S 1 1 1 0 -1 0 0 0 0 0 x 5 0 0", "1 (x) S 1 2 3 4 5 6 7 8 9 a b 0"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if rss, pss := ParseRollup([]byte("55d0-7ffc ---p 00000000 00:00 0 [rollup]\nRss:              105160 kB\nPss: 1 kB\n")); rss != 105160<<10 || pss != 1<<10 {
		t.Errorf("rollup: %d %d", rss, pss)
	}
}

// TestRead: a process's usage from its /proc files; a gone process is
// an error.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	pd := filepath.Join(dir, "42")
	os.Mkdir(pd, 0o755)
	os.WriteFile(filepath.Join(pd, "stat"), []byte("42 (qemu) S 1 1 1 0 -1 0 0 0 0 0 70 7 0 0\n"), 0o644)
	os.WriteFile(filepath.Join(pd, "smaps_rollup"), []byte("Rss: 10 kB\nPss: 5 kB\n"), 0o644)
	u, err := Read(dir, 42)
	if err != nil || u != (Usage{CPU: 770 * time.Millisecond, RSS: 10 << 10, PSS: 5 << 10}) {
		t.Errorf("%+v %v", u, err)
	}
	if _, err := Read(dir, 43); err == nil {
		t.Error("a gone process: no error")
	}
}

func FuzzProcFiles(f *testing.F) {
	f.Add([]byte("1 (qemu) S 1 1 1 0 -1 0 0 0 0 0 7 5 0 0\n"), []byte("Rss: 10 kB\nPss: 5 kB\n"))
	f.Add([]byte(")"), []byte("Rss:"))
	f.Fuzz(func(t *testing.T, stat, rollup []byte) {
		ParseStatCPU(stat)
		if rss, pss := ParseRollup(rollup); rss < 0 || pss < 0 {
			t.Fatalf("negative: %d %d", rss, pss)
		}
	})
}
