package qemu

import (
	"strings"
	"testing"
)

func TestWithMemoryFile(t *testing.T) {
	for _, share := range []bool{true, false} {
		c, err := buildArgs(spec(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := withMemoryFile(c, 256, "/t/memory", share); err != nil {
			t.Fatal(err)
		}
		line := strings.Join(c.args, " ")
		want := "memory-backend-file,id=ram0,size=256M,mem-path=/t/memory,share=off"
		if share {
			want = strings.Replace(want, "share=off", "share=on", 1)
		}
		for _, w := range []string{want, "acpi=off,memory-backend=ram0"} {
			if !strings.Contains(line, w) {
				t.Errorf("share=%v: command line lacks %q:\n%s", share, w, line)
			}
		}
	}
	c, _ := buildArgs(spec(), Options{})
	if err := withMemoryFile(c, 256, "/t/a,share=on", false); err == nil {
		t.Error("accepted a path with a comma")
	}
}
