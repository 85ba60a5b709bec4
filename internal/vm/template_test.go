package vm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/hypervisor/qemu"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/template"
	"github.com/hyperhq/hyper/internal/testenv"
	"github.com/hyperhq/hyper/internal/vm"
)

// bootTemplatePod boots a VM with a user-mode NIC through the template
// cache, creates the pod with the NIC configured by its own MAC, and
// checks at cleanup that nothing is left.
func bootTemplatePod(t *testing.T, cfg vm.Config, mac string) *testPod {
	t.Helper()
	img := testenv.BusyboxImage(t)
	scratch := testenv.ScratchDisk(t, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	v, err := vm.Boot(ctx, cfg, vm.Spec{
		ID: fmt.Sprintf("t%d-%d", os.Getpid(), vmSeq.Add(1)),
		Disks: []hypervisor.Disk{
			{Path: img, Serial: "img0", ReadOnly: true, Hotplug: true},
			{Path: scratch, Serial: "scratch0"},
		},
		NICs: []hypervisor.NIC{{ID: "eth0", MAC: mac}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdownAndCheck(t, v) })
	if err := v.Guest.CreatePod(ctx, protocol.PodSpec{Hostname: "tmplpod", ScratchDisk: "scratch0",
		Interfaces: []protocol.Interface{{MAC: mac, Address: "10.0.2.15/24", Gateway: "10.0.2.2"}}}); err != nil {
		t.Fatal(err)
	}
	return &testPod{t: t, v: v, ctx: ctx, img: img}
}

// TestTemplate restores two pods from one template and checks what a
// clone must not share with its template or its sibling: the clock, the
// RNG, the MAC address. Then a damaged template: the VM boots cold, and
// the next one rebuilds the template.
func TestTemplate(t *testing.T) {
	env := testenv.New(t)
	cache := template.New(t.TempDir(), env.Config.Driver.(*qemu.Driver), nil)
	cfg := env.Config
	cfg.Templates = cache
	var rnd []string
	var tmpl string
	for i, mac := range []string{"02:11:22:33:44:01", "02:11:22:33:44:02"} {
		p := bootTemplatePod(t, cfg, mac)
		if p.v.Template == "" {
			t.Fatalf("pod %d booted cold", i)
		}
		tmpl = p.v.Template
		p.container("c1", "sleep", "3600")
		out := p.sh("c1", "cat /sys/class/net/eth0/address; date +%s; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'")
		f := strings.Fields(out)
		if len(f) != 3 {
			t.Fatalf("pod %d: %q", i, out)
		}
		if f[0] != mac {
			t.Errorf("pod %d: eth0 has MAC %s, want %s", i, f[0], mac)
		}
		guestNow, _ := strconv.ParseInt(f[1], 10, 64)
		if d := time.Now().Unix() - guestNow; d < -1 || d > 2 {
			t.Errorf("pod %d: guest clock %d s behind the host", i, d)
		}
		rnd = append(rnd, f[2])
		t.Logf("pod %d: restored in %v", i, p.v.Timings.Ready.Sub(p.v.Timings.Start))
		if i == 0 {
			time.Sleep(2 * time.Second) // the template ages: its clock must not leak
		}
	}
	if rnd[0] == rnd[1] {
		t.Errorf("two clones read the same random bytes %s", rnd[0])
	}

	// Damage the template: the next VM boots cold and discards it; the
	// one after builds it again.
	if err := os.Truncate(filepath.Join(tmpl, "state"), 100); err != nil {
		t.Fatal(err)
	}
	if p := bootTemplatePod(t, cfg, "02:11:22:33:44:03"); p.v.Template != "" {
		t.Errorf("restored from a damaged template")
	}
	if p := bootTemplatePod(t, cfg, "02:11:22:33:44:04"); p.v.Template == "" {
		t.Errorf("template not rebuilt after a failed restore")
	}
}
