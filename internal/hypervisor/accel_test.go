package hypervisor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestChooseAccel(t *testing.T) {
	vmx := map[string]bool{"vmx": true}
	none := map[string]bool{"sse2": true}
	cases := []struct {
		name string
		req  AccelRequest
		host HostFacts
		want string
		err  error
	}{
		{"hw", AccelRequest{}, HostFacts{CPUFlags: vmx, KVMOpens: true}, AccelKVM, nil},
		{"pvm host stock kernel", AccelRequest{Mode: "auto"}, HostFacts{CPUFlags: none, KVMOpens: true}, AccelTCG, nil},
		{"pvm host pvm kernel", AccelRequest{KernelPVM: true}, HostFacts{CPUFlags: none, KVMOpens: true}, AccelKVM, nil},
		{"no kvm", AccelRequest{}, HostFacts{CPUFlags: vmx, KVMDetail: "no such file"}, AccelTCG, nil},
		{"forced tcg", AccelRequest{Mode: "tcg"}, HostFacts{CPUFlags: vmx, KVMOpens: true}, AccelTCG, nil},
		{"forced kvm without device", AccelRequest{Mode: "kvm"}, HostFacts{}, "", errdefs.ErrUnavailable},
		{"bad mode", AccelRequest{Mode: "xen"}, HostFacts{}, "", errdefs.ErrInvalidArgument},
	}
	for _, c := range cases {
		got, err := ChooseAccel(c.req, c.host)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got.Kind != c.want || got.Reason == "" {
			t.Errorf("%s: got %+v, %v; want %s with a reason", c.name, got, err, c.want)
		}
	}
}

func TestParseCPUFlags(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cpuinfo")
	os.WriteFile(p, []byte("processor\t: 0\nflags\t\t: fpu sse2 hypervisor\n\nprocessor\t: 1\nflags\t\t: vmx\n"), 0o644)
	f, _ := os.Open(p)
	defer f.Close()
	fl := parseCPUFlags(f)
	if !fl["hypervisor"] || fl["vmx"] {
		t.Fatalf("flags = %v", fl)
	}
}
