package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/reaper"
	"github.com/hyperhq/hyper/internal/hyperstart/stdio"
	"github.com/hyperhq/hyper/internal/protocol"
)

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"c1", "my-container_2.x", strings.Repeat("a", MaxIDLen), "init"} {
		if err := ValidateID("id", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", ".hidden", "-x", "a b", "a,b", "a:b", "a\x00", strings.Repeat("a", MaxIDLen+1), "é"} {
		err := ValidateID("id", bad)
		if errs.Code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%q accepted (%v)", bad, err)
		}
	}
}

func newTestAgent(t *testing.T) *Agent {
	dir := t.TempDir()
	return New(Config{
		Paths:  Paths{Run: dir, CgroupDir: filepath.Join(dir, "cg"), SysBlock: filepath.Join(dir, "sys"), Dev: filepath.Join(dir, "dev")},
		Reaper: reaper.New(),
		Stdio:  stdio.New(8, time.Minute),
	})
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return errs.Code(err)
}

func TestRequestsBeforePod(t *testing.T) {
	a := newTestAgent(t)
	ctx := context.Background()
	if _, err := a.Ping(ctx, protocol.Empty{}); err != nil {
		t.Fatal(err)
	}
	_, err := a.CreateContainer(ctx, protocol.ContainerSpec{ID: "c1", Rootfs: protocol.RootfsSpec{DiskSerial: "img0"}})
	if code(err) != protocol.CodeConflict {
		t.Errorf("CreateContainer before pod: %v", err)
	}
	_, err = a.CreateContainer(ctx, protocol.ContainerSpec{ID: "c1", Rootfs: protocol.RootfsSpec{DiskSerial: "img0", FSType: "vfat"}})
	if code(err) != protocol.CodeInvalidArgument {
		t.Errorf("bad fstype: %v", err)
	}
	for _, bad := range []protocol.ContainerSpec{{MaskedPaths: []string{"proc/kcore"}}, {ReadonlyPaths: []string{"/proc/../sys"}}} {
		bad.ID, bad.Rootfs = "c1", protocol.RootfsSpec{DiskSerial: "img0"}
		if _, err := a.CreateContainer(ctx, bad); code(err) != protocol.CodeInvalidArgument {
			t.Errorf("bad confinement paths %+v: %v", bad, err)
		}
	}
	_, err = a.ExecProcess(ctx, protocol.ExecRequest{Container: "c1", Exec: "e", Process: protocol.ProcessSpec{Args: []string{"sh"},
		Capabilities: &protocol.Capabilities{Bounding: []string{"CAP_FLY"}}}})
	if code(err) != protocol.CodeInvalidArgument {
		t.Errorf("unknown capability: %v", err)
	}
	_, err = a.ExecProcess(ctx, protocol.ExecRequest{Container: "c1", Exec: "init", Process: protocol.ProcessSpec{Args: []string{"sh"}}})
	if code(err) != protocol.CodeConflict {
		t.Errorf("exec before pod: %v", err)
	}
	_, err = a.ExecProcess(ctx, protocol.ExecRequest{Container: "c1", Exec: "a/b", Process: protocol.ProcessSpec{Args: []string{"sh"}}})
	if code(err) != protocol.CodeInvalidArgument {
		t.Errorf("bad exec id: %v", err)
	}
	_, err = a.ExecProcess(ctx, protocol.ExecRequest{Container: "c1", Exec: "e", Process: protocol.ProcessSpec{}})
	if code(err) != protocol.CodeInvalidArgument {
		t.Errorf("no args: %v", err)
	}
	for name, err := range map[string]error{
		"wait":   second(a.WaitProcess(ctx, protocol.ProcessRef{Container: "c1", Exec: "init"})),
		"signal": second(a.SignalProcess(ctx, protocol.SignalRequest{Container: "c1", Exec: "init", Signal: 9})),
		"resize": second(a.ResizeTerminal(ctx, protocol.ResizeRequest{Container: "c1", Exec: "init"})),
		"stop":   second(a.StopContainer(ctx, protocol.StopRequest{Container: "c1"})),
		"remove": second(a.RemoveContainer(ctx, protocol.ContainerRef{Container: "c1"})),
	} {
		if code(err) != protocol.CodeNotFound {
			t.Errorf("%s unknown container: %v", name, err)
		}
	}
	if err := second(a.SignalProcess(ctx, protocol.SignalRequest{Container: "c1", Exec: "init", Signal: 99})); code(err) != protocol.CodeInvalidArgument {
		t.Errorf("bad signal: %v", err)
	}
	if err := second(a.StopContainer(ctx, protocol.StopRequest{Container: "../c"})); code(err) != protocol.CodeInvalidArgument {
		t.Errorf("bad id: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestValidatePod(t *testing.T) {
	good := protocol.PodSpec{
		Hostname: "pod-1",
		Hosts:    []protocol.HostEntry{{IP: "10.0.0.1", Names: []string{"db"}}, {IP: "fe80::1", Names: []string{"v6"}}},
		DNS:      protocol.DNSConfig{Servers: []string{"1.1.1.1"}, Search: []string{"a.b"}, Options: []string{"ndots:2"}},
	}
	if err := validatePod(&good); err != nil {
		t.Fatal(err)
	}
	bad := []func(*protocol.PodSpec){
		func(p *protocol.PodSpec) { p.Hostname = "a b" },
		func(p *protocol.PodSpec) { p.Hostname = strings.Repeat("h", 65) },
		func(p *protocol.PodSpec) { p.Hosts[0].IP = "not-an-ip" },
		func(p *protocol.PodSpec) { p.Hosts[0].Names = []string{"x\n1.2.3.4 evil"} },
		func(p *protocol.PodSpec) { p.Hosts[0].Names = nil },
		func(p *protocol.PodSpec) { p.DNS.Servers = []string{"dns.google"} },
		func(p *protocol.PodSpec) { p.DNS.Search = []string{"a\nnameserver 6.6.6.6"} },
		func(p *protocol.PodSpec) { p.ScratchDisk = "../sda" },
	}
	for i, mutate := range bad {
		p := good
		p.Hosts = append([]protocol.HostEntry(nil), good.Hosts...)
		p.DNS.Search = append([]string(nil), good.DNS.Search...)
		mutate(&p)
		if err := validatePod(&p); code(err) != protocol.CodeInvalidArgument {
			t.Errorf("case %d accepted: %v", i, err)
		}
	}
}

func TestWritePodFiles(t *testing.T) {
	dir := t.TempDir()
	spec := protocol.PodSpec{
		Hosts: []protocol.HostEntry{{IP: "10.0.0.1", Names: []string{"db", "db.local"}}},
		DNS:   protocol.DNSConfig{Servers: []string{"8.8.8.8", "1.1.1.1"}, Search: []string{"x.y"}, Options: []string{"ndots:1"}},
	}
	if err := writePodFiles(dir, "web", &spec); err != nil {
		t.Fatal(err)
	}
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("hostname"); got != "web\n" {
		t.Errorf("hostname %q", got)
	}
	wantHosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb\n10.0.0.1\tdb db.local\n"
	if got := read("hosts"); got != wantHosts {
		t.Errorf("hosts %q", got)
	}
	wantResolv := "nameserver 8.8.8.8\nnameserver 1.1.1.1\nsearch x.y\noptions ndots:1\n"
	if got := read("resolv.conf"); got != wantResolv {
		t.Errorf("resolv.conf %q", got)
	}
}

func TestDrainCutsIdleOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // held open, as by a background process
	a, b := netPipe(t)
	p := newPump(r, a, false)
	go p.run()
	w.Write([]byte("data"))
	buf := make([]byte, 4)
	if _, err := b.Read(buf); err != nil || string(buf) != "data" {
		t.Fatalf("read %q %v", buf, err)
	}
	start := time.Now()
	drain([]*pump{p}, 100*time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("drain took %v", d)
	}
}
