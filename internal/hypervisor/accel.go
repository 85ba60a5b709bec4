package hypervisor

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Accel is the chosen CPU acceleration and why it was chosen.
type Accel struct {
	Kind   string // AccelKVM or AccelTCG
	Reason string
}

// Acceleration kinds.
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg" // QEMU's software CPU
)

// AccelRequest is what the user asked for.
type AccelRequest struct {
	// Mode is "auto" (or empty), "kvm" or "tcg".
	Mode string
	// KernelPVM declares the guest kernel PVM-capable: on a PVM host (a
	// /dev/kvm without vmx/svm in the CPU flags) only such a kernel runs
	// under KVM; stock kernels hang there.
	KernelPVM bool
}

// HostFacts are the host properties the choice depends on.
type HostFacts struct {
	CPUFlags  map[string]bool // from /proc/cpuinfo
	KVMOpens  bool            // /dev/kvm could be opened read-write
	KVMDetail string          // why not, if it could not
}

// ProbeHost reads the host facts.
func ProbeHost() HostFacts {
	h := HostFacts{CPUFlags: map[string]bool{}}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		h.CPUFlags = parseCPUFlags(f)
		f.Close()
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		h.KVMDetail = err.Error()
	} else {
		h.KVMOpens = true
		f.Close()
	}
	return h
}

func parseCPUFlags(f *os.File) map[string]bool {
	flags := map[string]bool{}
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1<<20)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, fl := range strings.Fields(v) {
			flags[fl] = true
		}
		break // the first CPU is enough
	}
	return flags
}

// ChooseAccel picks KVM only where it can run the guest kernel: the CPU shows
// vmx or svm and /dev/kvm opens, or /dev/kvm opens and the kernel is declared
// PVM-capable. Otherwise TCG. An explicit mode is honoured, or refused with a
// reason if it cannot work.
func ChooseAccel(req AccelRequest, h HostFacts) (Accel, error) {
	hw := h.CPUFlags["vmx"] || h.CPUFlags["svm"]
	switch req.Mode {
	case "", "auto":
	case AccelTCG:
		return Accel{AccelTCG, "tcg requested explicitly"}, nil
	case AccelKVM:
		if !h.KVMOpens {
			return Accel{}, errdefs.Unavailable("kvm requested but /dev/kvm cannot be opened: %s", h.KVMDetail)
		}
		return Accel{AccelKVM, "kvm requested explicitly"}, nil
	default:
		return Accel{}, errdefs.InvalidArgument("unknown acceleration %q (want auto, kvm or tcg)", req.Mode)
	}
	switch {
	case !h.KVMOpens:
		return Accel{AccelTCG, fmt.Sprintf("/dev/kvm unusable (%s): using TCG (software CPU)", h.KVMDetail)}, nil
	case hw:
		return Accel{AccelKVM, "CPU has hardware virtualization (vmx/svm) and /dev/kvm opens"}, nil
	case req.KernelPVM:
		return Accel{AccelKVM, "no vmx/svm in CPU flags but /dev/kvm opens (PVM host) and the kernel is declared PVM-capable"}, nil
	default:
		return Accel{AccelTCG, "/dev/kvm opens but the CPU shows no vmx/svm (a PVM host?) and the kernel is not declared PVM-capable: using TCG (software CPU)"}, nil
	}
}
