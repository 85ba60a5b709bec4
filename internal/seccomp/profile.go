// Package seccomp turns Docker seccomp profiles (the JSON of
// github.com/moby/profiles/seccomp, Docker's default among them) into the
// classic BPF program that the guest installs with seccomp(2)
// (protocol.SeccompFilter). It runs on the host, in pure Go: the guest has
// no profile compiler and no libseccomp.
//
// A profile is first resolved for the guest, as dockerd resolves it for
// its host: the rules whose includes/excludes do not match the container's
// bounding capabilities, the x86_64 architecture or the guest kernel
// (hyperkernel, Linux 6.1) are dropped, and syscall names are numbered
// with x86_64's table. The result is compiled (compile.go) and cached by
// profile and capabilities.
package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/elastic/go-seccomp-bpf/arch"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Profile is a seccomp profile in Docker's JSON format.
type Profile = seccomp.Seccomp

// GuestKernel is the guest kernel's version, against which the rules'
// minKernel conditions are evaluated.
var GuestKernel = seccomp.KernelVersion{Kernel: 6, Major: 1}

// guestArch is libseccomp's name of the guest's architecture, as the
// profiles' includes/excludes spell it.
const guestArch = "amd64"

// MaxProfileSize bounds a profile's JSON.
const MaxProfileSize = 1 << 20

// Default is Docker's default profile.
func Default() *Profile { return seccomp.DefaultProfile() }

// Parse reads a profile in Docker's JSON format. Its content is user
// input (hyperctl run --security-opt seccomp=FILE): errors are
// InvalidArgument.
func Parse(data []byte) (*Profile, error) {
	if len(data) > MaxProfileSize {
		return nil, errdefs.InvalidArgument("seccomp profile: %d bytes, at most %d", len(data), MaxProfileSize)
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, errdefs.InvalidArgument("seccomp profile: %w", err)
	}
	if dec.More() {
		return nil, errdefs.InvalidArgument("seccomp profile: data after the JSON object")
	}
	if p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return nil, errdefs.InvalidArgument("seccomp profile: no defaultAction and no syscalls (use seccomp=unconfined to run without a filter)")
	}
	return &p, nil
}

// rule is one resolved rule of a syscall: its action when all of its
// conditions hold (none: always).
type rule struct {
	action uint32
	conds  []specs.LinuxSeccompArg
}

// resolved is a profile resolved for the guest and a set of capabilities.
type resolved struct {
	defaultAction uint32
	x32Action     uint32
	// rules are the syscalls' rules in the profile's order, by number.
	rules map[int][]rule
}

// resolve drops the rules of p that do not apply to a container with the
// bounding capabilities caps on the guest, and numbers the syscalls.
// Names unknown to x86_64 are skipped, as runc skips the ones libseccomp
// does not know.
func resolve(p *Profile, caps []string) (*resolved, error) {
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return nil, errdefs.InvalidArgument("seccomp profile: both architectures and archMap are given; use one")
	}
	if p.ListenerPath != "" {
		return nil, errdefs.InvalidArgument("seccomp profile: listenerPath: a seccomp agent cannot reach the guest")
	}
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: defaultAction: %w", err)
	}
	arches := p.Architectures
	for _, a := range p.ArchMap {
		if a.Arch == specs.ArchX86_64 {
			arches = append([]specs.Arch{a.Arch}, a.SubArches...)
			break
		}
	}
	for _, a := range arches {
		if !knownArch(a) {
			return nil, errdefs.InvalidArgument("seccomp profile: unknown architecture %q", a)
		}
	}
	r := &resolved{defaultAction: def, x32Action: retKillProcess, rules: map[int][]rule{}}
	if slices.Contains(arches, specs.ArchX32) {
		// The guest kernel has no x32 ABI: its syscalls fail whatever the
		// filter says, which only picks how.
		r.x32Action = def
	}
	for i, call := range p.Syscalls {
		if call == nil {
			continue
		}
		names := call.Names
		if call.Name != "" {
			if len(names) != 0 {
				return nil, errdefs.InvalidArgument("seccomp profile: syscalls[%d]: both name and names are given; use one", i)
			}
			names = []string{call.Name}
		}
		if !applies(call, caps) {
			continue
		}
		act, err := action(call.Action, call.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp profile: syscalls[%d]: %w", i, err)
		}
		for _, a := range call.Args {
			if a.Index > 5 {
				return nil, errdefs.InvalidArgument("seccomp profile: syscalls[%d]: argument index %d: a syscall has 6 (0-5)", i, a.Index)
			}
			if !knownOp(a.Op) {
				return nil, errdefs.InvalidArgument("seccomp profile: syscalls[%d]: unknown operator %q", i, a.Op)
			}
		}
		for _, name := range names {
			nr, ok := arch.X86_64.SyscallNames[name]
			if !ok {
				continue
			}
			r.rules[nr] = append(r.rules[nr], splitArgs(act, call.Args)...)
		}
	}
	return r, nil
}

// applies tells whether call's includes and excludes keep it for the
// guest and caps.
func applies(call *seccomp.Syscall, caps []string) bool {
	if f := call.Excludes; f != nil {
		if slices.Contains(f.Arches, guestArch) || slices.ContainsFunc(f.Caps, func(c string) bool { return slices.Contains(caps, c) }) {
			return false
		}
		if f.MinKernel != nil && !kernelBelow(*f.MinKernel) {
			return false
		}
	}
	if f := call.Includes; f != nil {
		if len(f.Arches) > 0 && !slices.Contains(f.Arches, guestArch) {
			return false
		}
		if slices.ContainsFunc(f.Caps, func(c string) bool { return !slices.Contains(caps, c) }) {
			return false
		}
		if f.MinKernel != nil && kernelBelow(*f.MinKernel) {
			return false
		}
	}
	return true
}

// kernelBelow tells whether the guest kernel is older than v.
func kernelBelow(v seccomp.KernelVersion) bool {
	if GuestKernel.Kernel != v.Kernel {
		return GuestKernel.Kernel < v.Kernel
	}
	return GuestKernel.Major < v.Major
}

// splitArgs makes the rules of one profile entry: one rule with all of
// its conditions (all must hold), unless two of them test the same
// argument, which runc reads as one rule per condition (any may hold;
// Docker's default profile relies on it).
func splitArgs(act uint32, args []specs.LinuxSeccompArg) []rule {
	var seen [6]bool
	for _, a := range args {
		if seen[a.Index] {
			out := make([]rule, len(args))
			for i, a := range args {
				out[i] = rule{action: act, conds: []specs.LinuxSeccompArg{a}}
			}
			return out
		}
		seen[a.Index] = true
	}
	return []rule{{action: act, conds: args}}
}

func knownArch(a specs.Arch) bool {
	switch a {
	case specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64, specs.ArchMIPS, specs.ArchMIPS64,
		specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
		specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64,
		specs.ArchLOONGARCH64:
		return true
	}
	return false
}

func knownOp(op specs.LinuxSeccompOperator) bool {
	switch op {
	case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo, specs.OpGreaterEqual,
		specs.OpGreaterThan, specs.OpMaskedEqual:
		return true
	}
	return false
}

// The kernel's seccomp return values (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000

	maxErrno = 4095
	eperm    = 1
)

// action is the return value of a profile's action; errno defaults to
// EPERM as in runc.
func action(a specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	data := uint32(eperm)
	if errno != nil {
		if *errno > maxErrno {
			return 0, errdefs.InvalidArgument("errnoRet %d: at most %d", *errno, maxErrno)
		}
		data = uint32(*errno)
	}
	switch a {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | data, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | data, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return 0, errdefs.InvalidArgument("action %s: a seccomp agent cannot reach the guest", a)
	case "":
		return 0, errdefs.InvalidArgument("no action")
	}
	return 0, errdefs.InvalidArgument("unknown action %q", a)
}

// specsArg is a rule's condition on one argument.
type specsArg = specs.LinuxSeccompArg

const (
	opEQ       = specs.OpEqualTo
	opNE       = specs.OpNotEqual
	opLT       = specs.OpLessThan
	opLE       = specs.OpLessEqual
	opGT       = specs.OpGreaterThan
	opGE       = specs.OpGreaterEqual
	opMaskedEQ = specs.OpMaskedEqual
)
