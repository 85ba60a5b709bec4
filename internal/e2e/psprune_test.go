package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPsOptionsCompletionPrune: ps's --filter, -n, -l and -s on pods of
// every state; completion scripts load in bash and complete pod names
// from hyperd; system prune removes the pods that do not run, after
// asking.
func TestPsOptionsCompletionPrune(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "up", "-l", "tier=fe", "busybox", "sleep", "3600")
	h.ok("run", "--name", "done", "-l", "tier=be", "busybox", "true")
	h.ok("create", "--name", "new", "busybox", "true")
	names := func(args ...string) string {
		t.Helper()
		return strings.Join(strings.Fields(h.ok(append(append([]string{"ps"}, args...), "--format", "{{.Names}}")...)), " ")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "up"},
		{[]string{"-a"}, "new done up"},
		{[]string{"--filter", "status=exited"}, "done"},
		{[]string{"--filter", "status=exited", "--filter", "status=created"}, "new done"},
		{[]string{"-a", "--filter", "label=tier"}, "done up"},
		{[]string{"-a", "--filter", "label=tier=fe"}, "up"},
		{[]string{"-a", "--filter", "name=o", "--filter", "label=tier=be"}, "done"},
		{[]string{"-a", "--filter", "ancestor=busybox"}, "new done up"},
		{[]string{"-n", "2"}, "new done"},
		{[]string{"-l"}, "new"},
	} {
		if got := names(tc.args...); got != tc.want {
			t.Errorf("ps %v: %q, want %q", tc.args, got, tc.want)
		}
	}
	if out := h.ok("ps", "-s"); !strings.Contains(out, "SIZE") || !strings.Contains(out, "N/A") {
		t.Errorf("ps -s:\n%s", out)
	}
	if _, stderr, code := h.run("", "ps", "--filter", "colour=red"); code == 0 || !strings.Contains(stderr, "invalid filter") {
		t.Errorf("ps --filter colour=red: %d %q", code, stderr)
	}

	// completion: the bash script loads and names subcommands; pod names
	// complete from hyperd.
	script := `source <("$1" completion bash) && complete -p hyperctl && "$1" __complete "" && "$1" -H "$2" __complete exec ""`
	out, err := exec.Command("bash", "-c", script, "bash", h.ctl, "unix://"+h.sock).CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion: %v\n%s", err, out)
	}
	for _, want := range []string{"complete -o default -F __start_hyperctl hyperctl", "\nexec\t", "\nsystem\t", "\nup\n", "\ndone\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("completion output lacks %q:\n%s", want, out)
		}
	}
	for _, sh := range []string{"zsh", "fish", "powershell"} {
		if out := h.ok("completion", sh); !strings.Contains(out, "hyperctl") {
			t.Errorf("completion %s: %.200q", sh, out)
		}
	}

	// system prune: "n" keeps everything; -f removes the pods that do not
	// run, and with --volumes the unused volumes.
	h.ok("volume", "create", "spare")
	out2, _, _ := h.run("n\n", "system", "prune", "--volumes")
	if !strings.Contains(out2, "Are you sure you want to continue? [y/N]") || names("-a") != "new done up" {
		t.Errorf("system prune answered n: %q, pods %q", out2, names("-a"))
	}
	start := time.Now()
	out2 = h.ok("system", "prune", "-f", "--volumes")
	t.Logf("system prune -f --volumes took %v:\n%s", time.Since(start), out2)
	if !strings.Contains(out2, "Deleted Pods:") || !strings.Contains(out2, "Deleted Volumes:\nspare\n") || !strings.Contains(out2, "Total reclaimed space:") {
		t.Errorf("system prune -f --volumes:\n%s", out2)
	}
	if got := names("-a"); got != "up" {
		t.Errorf("after the prune: %q", got)
	}
}
