package e2e

import (
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/testenv"
)

// TestRelativePathFlags: hyperd's path flags are relative to its working
// directory, which neither the jailer nor QEMU shares.
func TestRelativePathFlags(t *testing.T) {
	k := testenv.New(t).Config.Kernel
	h := launch(t, &hyperd{wd: "/", args: []string{
		"--kernel", strings.TrimPrefix(k.Path, "/"), "--initrd", strings.TrimPrefix(k.Initrd, "/")}})
	h.loadBusybox()
	if out := h.ok("run", "--rm", "busybox", "echo", "relative"); !strings.Contains(out, "relative") {
		t.Fatalf("run: %q", out)
	}
}
