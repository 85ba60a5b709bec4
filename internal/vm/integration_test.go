package vm_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/testenv"
	"github.com/hyperhq/hyper/internal/vm"
)

// TestProcesses covers the process surface in one VM: output, exit codes,
// signals, environment, users, stdin, exec, kill, zombies.
func TestProcesses(t *testing.T) {
	p := bootPod(t)
	p.container("c1", "sleep", "3600")

	t.Run("echo", func(t *testing.T) {
		r := p.run("c1", protocol.ProcessSpec{Args: []string{"echo", "hello", "world"}}, "")
		if r.stdout != "hello world\n" || r.status.Code != 0 {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("exit code 42", func(t *testing.T) {
		r := p.run("c1", protocol.ProcessSpec{Args: []string{"sh", "-c", "echo err >&2; exit 42"}}, "")
		if r.status.Code != 42 || r.status.Signal != 0 || r.stderr != "err\n" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("killed by signal", func(t *testing.T) {
		r := p.run("c1", protocol.ProcessSpec{Args: []string{"sh", "-c", "kill -9 $$"}}, "")
		if r.status.Signal != 9 || r.status.Code != 137 {
			t.Fatalf("got %+v", r.status)
		}
	})
	t.Run("command not found", func(t *testing.T) {
		_, err := p.v.Guest.Exec(p.ctx, "c1", "nf", protocol.ProcessSpec{Args: []string{"no-such-binary"}})
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
	t.Run("env and cwd", func(t *testing.T) {
		r := p.run("c1", protocol.ProcessSpec{Args: []string{"sh", "-c", "echo $FOO:$PWD:$HOME; pwd"}, Env: []string{"FOO=bar"}, Cwd: "/tmp"}, "")
		if r.stdout != "bar:/tmp:/root\n/tmp\n" {
			t.Fatalf("got %q", r.stdout)
		}
	})
	t.Run("user by name", func(t *testing.T) {
		got := strings.TrimSpace(p.run("c1", protocol.ProcessSpec{Args: []string{"id"}, User: "alice"}, "").stdout)
		for _, want := range []string{"uid=1000(alice)", "gid=1000(alice)", "10(wheel)", "50(staff)"} {
			if !strings.Contains(got, want) {
				t.Errorf("id = %q, lacks %q", got, want)
			}
		}
	})
	t.Run("user by uid and extra group", func(t *testing.T) {
		got := p.run("c1", protocol.ProcessSpec{Args: []string{"sh", "-c", "id -u; id -g; id -G; echo $HOME"}, User: "1000:50", AdditionalGroups: []string{"65534"}}, "").stdout
		if got != "1000\n50\n50 10 65534\n/home/alice\n" && !strings.HasPrefix(got, "1000\n50\n") {
			t.Fatalf("got %q", got)
		}
		if !strings.Contains(got, "65534") {
			t.Errorf("additional group missing: %q", got)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := p.v.Guest.Exec(p.ctx, "c1", "uu", protocol.ProcessSpec{Args: []string{"id"}, User: "mallory"})
		if err == nil {
			t.Fatal("unknown user accepted")
		}
	})
	t.Run("stdin", func(t *testing.T) {
		r := p.run("c1", protocol.ProcessSpec{Args: []string{"sh", "-c", "wc -l; tr a-z A-Z < /dev/null"}}, "a\nb\nc\n")
		if strings.TrimSpace(r.stdout) != "3" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("rlimits", func(t *testing.T) {
		r := p.run("c1", protocol.ProcessSpec{Args: []string{"sh", "-c", "ulimit -n"}, Rlimits: []protocol.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}}}, "")
		if strings.TrimSpace(r.stdout) != "123" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("hostname and resolv.conf", func(t *testing.T) {
		got := p.sh("c1", "hostname; cat /etc/resolv.conf; grep testpod /etc/hosts")
		if !strings.HasPrefix(got, "testpod\n") || !strings.Contains(got, "nameserver 10.0.2.3") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("kill with chosen signal", func(t *testing.T) {
		proc, err := p.v.Guest.Exec(p.ctx, "c1", "sleeper", protocol.ProcessSpec{Args: []string{"sleep", "600"}})
		if err != nil {
			t.Fatal(err)
		}
		defer proc.Close()
		go io.Copy(io.Discard, proc.Stdout)
		go io.Copy(io.Discard, proc.Stderr)
		if err := proc.Signal(p.ctx, int(syscall.SIGUSR1)); err != nil {
			t.Fatal(err)
		}
		st, err := proc.Wait(p.ctx)
		if err != nil || st.Signal != int(syscall.SIGUSR1) {
			t.Fatalf("status %+v, %v", st, err)
		}
	})
	t.Run("no zombies", func(t *testing.T) {
		// Each subshell leaves an orphan that outlives its parent.
		p.sh("c1", "for i in 1 2 3 4 5; do (sleep 0.3 &); done")
		time.Sleep(time.Second)
		ps := p.sh("c1", "ps -o pid,stat,comm")
		for _, line := range strings.Split(ps, "\n")[1:] {
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "Z") {
				t.Errorf("zombie left: %q\n%s", line, ps)
			}
		}
	})
}

// TestTerminal checks terminal mode: isatty, and a resize seen by the process.
func TestTerminal(t *testing.T) {
	p := bootPod(t)
	p.container("c1", "sleep", "3600")
	proc, err := p.v.Guest.Exec(p.ctx, "c1", "tty1", protocol.ProcessSpec{
		Args: []string{"sh", "-c", "test -t 0 && test -t 1 && echo TTY; read line; stty size"}, Terminal: true, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	if proc.Stderr != nil {
		t.Error("terminal process has a separate stderr")
	}
	out := make(chan string, 1)
	go func() { b, _ := io.ReadAll(proc.Stdout); out <- string(b) }()
	time.Sleep(500 * time.Millisecond)
	if err := proc.Resize(p.ctx, 33, 101); err != nil {
		t.Fatal(err)
	}
	io.WriteString(proc.Stdin, "go\n")
	st, err := proc.Wait(p.ctx)
	if err != nil || st.Code != 0 {
		t.Fatalf("status %+v, %v", st, err)
	}
	got := <-out
	if !strings.Contains(got, "TTY") || !strings.Contains(got, "33 101") {
		t.Fatalf("terminal output %q", got)
	}
}

// TestPodIsolation: two containers share the PID namespace but not files;
// rootfs writes land in the writable layer, never in the image.
func TestPodIsolation(t *testing.T) {
	p := bootPod(t)
	before := fileHash(t, p.img)
	p.container("a", "sleep", "3601")
	p.container("b", "sleep", "3602")
	if ps := p.sh("a", "ps -o args"); !strings.Contains(ps, "sleep 3602") {
		t.Errorf("container a does not see b's process:\n%s", ps)
	}
	p.sh("b", "echo secret > /b-only && mkdir -p /usr && echo x > /bin/added")
	if out := p.sh("a", "test -e /b-only && echo visible || echo hidden; test -e /bin/added && echo visible || echo hidden"); out != "hidden\nhidden" {
		t.Errorf("a sees b's files: %q", out)
	}
	if got := p.sh("b", "cat /b-only"); got != "secret" {
		t.Errorf("b lost its write: %q", got)
	}
	if p.sh("a", "hostname") != "testpod" {
		t.Error("UTS namespace not shared")
	}
	if after := fileHash(t, p.img); after != before {
		t.Error("image disk changed: writes reached the read-only layer")
	}
}

// TestStop: stop with a grace period ends a process that ignores SIGTERM,
// exec then refuses, and the container can be removed.
func TestStop(t *testing.T) {
	p := bootPod(t)
	init := p.container("c1", "sh", "-c", "trap '' TERM; touch /trapped; while true; do sleep 1; done")
	p.sh("c1", "while [ ! -e /trapped ]; do sleep 0.05; done")
	start := time.Now()
	if err := p.v.Guest.StopContainer(p.ctx, protocol.StopRequest{Container: "c1", GraceMillis: 500}); err != nil {
		t.Fatal(err)
	}
	// The guest times the grace with its own clock, which under TCG may
	// run a few percent off the host's: allow for that.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("stopped after %v, before the 500ms grace period", d)
	}
	st, err := init.Wait(p.ctx)
	if err != nil || st.Signal != int(syscall.SIGKILL) {
		t.Fatalf("init status %+v, %v", st, err)
	}
	if _, err := p.v.Guest.Exec(p.ctx, "c1", "late", protocol.ProcessSpec{Args: []string{"true"}}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("exec into stopped container: %v, want conflict", err)
	}
	if err := p.v.Guest.RemoveContainer(p.ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := p.v.Guest.RemoveContainer(p.ctx, "c1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second remove: %v, want not found", err)
	}
}

// TestMisbehavingGuest: a guest that sends garbage, or never says hello,
// ends with a clear error in bounded time; the host stays healthy and
// nothing is left behind.
func TestMisbehavingGuest(t *testing.T) {
	env := testenv.New(t)
	findPort := `
/bin/busybox mount -t devtmpfs dev /dev; /bin/busybox mount -t sysfs sys /sys
for f in /sys/class/virtio-ports/*; do [ "$(/bin/busybox cat $f/name)" = hyper.0 ] && port=/dev/$(/bin/busybox basename $f); done
`
	cases := []struct {
		name, script string
		timeout      time.Duration
		atBoot       bool
	}{
		// Boot's first call (Resume) reads the garbage.
		{"garbage after hello", findPort + `echo '{"proto":1}' > $port; while true; do /bin/busybox cat /bin/busybox > $port; done`, time.Minute, true},
		{"oversized hello", findPort + `while true; do /bin/busybox cat /bin/busybox > $port; done`, time.Minute, true},
		{"silence", `while true; do /bin/busybox sleep 100; done`, 5 * time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := env.Config
			cfg.Kernel.Initrd = writeInitrd(t, c.script)
			start := time.Now()
			v, err := vm.Boot(context.Background(), cfg, vm.Spec{ID: "bad" + strings.ReplaceAll(c.name, " ", "-"), BootTimeout: c.timeout})
			if c.atBoot {
				if err == nil {
					v.Destroy()
					t.Fatal("boot succeeded")
				}
				t.Logf("boot failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
				if _, serr := os.Stat(cfg.RunDir + "/bad" + strings.ReplaceAll(c.name, " ", "-")); !os.IsNotExist(serr) {
					t.Error("state dir left behind")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			v.Guest.Ping(ctx) // provokes the garbage to be read
			select {
			case <-v.Done():
				t.Logf("vm failed: %s", v.ExitReason())
				if !strings.Contains(v.ExitReason(), "guest channel failed") {
					t.Errorf("reason %q", v.ExitReason())
				}
			case <-ctx.Done():
				t.Fatal("vm not failed within 30s")
			}
			v.Destroy()
		})
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
