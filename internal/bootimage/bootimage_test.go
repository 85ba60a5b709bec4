package bootimage

import (
	"os/exec"
	"strings"
	"testing"
)

func TestBusyboxEntries(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	entries, err := busyboxEntries(bb)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, e := range entries {
		links[e.Path] = string(e.Data)
	}
	for _, a := range []string{"bin/sh", "bin/ls", "bin/ps", "bin/cat"} {
		if links[a] != "busybox" {
			t.Errorf("%s -> %q, want busybox", a, links[a])
		}
	}
	if _, err := busyboxEntries("/bin/true"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("a dynamic binary: %v", err)
	}
}
