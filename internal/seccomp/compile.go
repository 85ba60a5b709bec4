package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/net/bpf"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// auditArchX86_64 is AUDIT_ARCH_X86_64 (linux/audit.h); x32Bit marks the
// syscall numbers of the x32 ABI, which shares it.
const (
	auditArchX86_64 = 0xc000003e
	x32Bit          = 0x40000000
)

// The offsets of struct seccomp_data's fields: nr (int), arch (u32),
// instruction_pointer (u64), args[6] (u64, little-endian: the low half
// first).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Compile resolves p for a container whose bounding set is caps and
// compiles it. Programs are cached by profile and capabilities, and
// shared: callers do not modify them.
func Compile(p *Profile, caps []string) (*protocol.SeccompFilter, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	sorted := slices.Sorted(slices.Values(caps))
	key := sha256.Sum256(append(raw, strings.Join(sorted, ",")...))
	cache.mu.Lock()
	prog, ok := cache.progs[key]
	cache.mu.Unlock()
	if ok {
		return &protocol.SeccompFilter{Program: prog}, nil
	}
	r, err := resolve(p, sorted)
	if err != nil {
		return nil, err
	}
	prog, err = r.compile()
	if err != nil {
		return nil, err
	}
	cache.mu.Lock()
	if len(cache.progs) >= maxCached {
		clear(cache.progs)
	}
	cache.progs[key] = prog
	cache.mu.Unlock()
	return &protocol.SeccompFilter{Program: prog}, nil
}

// maxCached bounds the cache: a few profiles times a few capability sets
// in practice; past it the cache starts over.
const maxCached = 64

var cache = struct {
	mu    sync.Mutex
	progs map[[sha256.Size]byte][]byte
}{progs: map[[sha256.Size]byte][]byte{}}

// compile lays out the program:
//
//	arch != x86_64          -> kill the process
//	nr has the x32 bit      -> the x32 action
//	nr with conditions      -> its rules in order, then its fallback
//	nr with one action      -> that action (a chain per action)
//	                        -> the default action
//
// A syscall with conditional rules falls back to its first unconditional
// rule, or the default action.
func (r *resolved) compile() ([]byte, error) {
	a := &asm{}
	a.load(offArch)
	a.jump(bpf.JumpEqual, auditArchX86_64, 1, 0)
	a.ret(retKillProcess)
	a.load(offNr)
	a.jump(bpf.JumpGreaterOrEqual, x32Bit, 0, 1)
	a.ret(r.x32Action)

	nrs := make([]int, 0, len(r.rules))
	for nr := range r.rules {
		nrs = append(nrs, nr)
	}
	sort.Ints(nrs)
	plain := map[uint32][]int{} // action -> syscalls without conditions
	var actions []uint32
	for _, nr := range nrs {
		var conds []rule
		fallback, found := r.defaultAction, false
		for _, ru := range r.rules[nr] {
			if len(ru.conds) == 0 {
				if !found {
					fallback, found = ru.action, true
				}
				continue
			}
			conds = append(conds, ru)
		}
		if len(conds) == 0 {
			if fallback != r.defaultAction {
				if _, ok := plain[fallback]; !ok {
					actions = append(actions, fallback)
				}
				plain[fallback] = append(plain[fallback], nr)
			}
			continue
		}
		if err := a.conditional(uint32(nr), conds, fallback); err != nil {
			return nil, err
		}
	}
	for _, act := range actions {
		a.chain(plain[act], act)
	}
	a.ret(r.defaultAction)
	return a.encode()
}

// asm collects a program's instructions; jumps are relative, as BPF's.
type asm struct {
	ins []bpf.Instruction
	err error
}

func (a *asm) load(off uint32) { a.ins = append(a.ins, bpf.LoadAbsolute{Off: off, Size: 4}) }
func (a *asm) ret(v uint32)    { a.ins = append(a.ins, bpf.RetConstant{Val: v}) }

func (a *asm) jump(c bpf.JumpTest, v uint32, jt, jf int) {
	if jt > 255 || jf > 255 {
		a.err = errdefs.InvalidArgument("seccomp profile: a rule is too long to compile")
	}
	a.ins = append(a.ins, bpf.JumpIf{Cond: c, Val: v, SkipTrue: uint8(jt), SkipFalse: uint8(jf)})
}

// chain returns act for every syscall of nrs (A holds the number): chunks
// of jumps to a return after them, each chunk skipped over when no jump
// was taken.
func (a *asm) chain(nrs []int, act uint32) {
	const chunk = 250
	for len(nrs) > 0 {
		n := min(chunk, len(nrs))
		for i, nr := range nrs[:n] {
			a.jump(bpf.JumpEqual, uint32(nr), n-i, 0)
		}
		a.ins = append(a.ins, bpf.Jump{Skip: 1})
		a.ret(act)
		nrs = nrs[n:]
	}
}

// conditional compiles the rules of syscall nr (A holds the number): a
// block that returns the first matching rule's action, else fallback.
// The block is skipped when nr does not match.
func (a *asm) conditional(nr uint32, rules []rule, fallback uint32) error {
	b := &asm{}
	for _, ru := range rules {
		r := &asm{}
		for _, c := range ru.conds {
			r.cond(c)
		}
		r.ret(ru.action)
		// Every condition's failure jumps to the instruction after the
		// rule: its fail targets were written as "end of rule" markers.
		r.resolveFails()
		b.ins = append(b.ins, r.ins...)
		if r.err != nil {
			return r.err
		}
	}
	b.ret(fallback)
	if len(b.ins) <= 255 {
		a.jump(bpf.JumpEqual, nr, 0, len(b.ins))
	} else {
		a.jump(bpf.JumpEqual, nr, 1, 0)
		a.ins = append(a.ins, bpf.Jump{Skip: uint32(len(b.ins))})
	}
	a.ins = append(a.ins, b.ins...)
	return a.err
}

// failJump marks a jump target "the end of the rule" until resolveFails
// turns it into an offset.
const failJump = 0xff

// cond appends the test of one condition on a 64-bit argument, split in
// its two halves: on success it falls through to the next condition, on
// failure it jumps to the end of the rule (failJump).
func (r *asm) cond(c specsArg) {
	lo, hi := uint32(c.Value), uint32(c.Value>>32)
	lo2, hi2 := uint32(c.ValueTwo), uint32(c.ValueTwo>>32)
	offLo, offHi := offArgs+8*uint32(c.Index), offArgs+8*uint32(c.Index)+4
	F := failJump
	switch c.Op {
	case opEQ:
		r.load(offHi)
		r.jump(bpf.JumpEqual, hi, 0, F)
		r.load(offLo)
		r.jump(bpf.JumpEqual, lo, 0, F)
	case opNE: // fails when both halves are equal
		r.load(offHi)
		r.jump(bpf.JumpEqual, hi, 0, 2)
		r.load(offLo)
		r.jump(bpf.JumpEqual, lo, F, 0)
	case opMaskedEQ: // (arg & Value) == ValueTwo
		r.load(offHi)
		r.ins = append(r.ins, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: hi})
		r.jump(bpf.JumpEqual, hi2, 0, F)
		r.load(offLo)
		r.ins = append(r.ins, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: lo})
		r.jump(bpf.JumpEqual, lo2, 0, F)
	case opGT, opGE: // hi > v.hi, or equal and lo > (>=) v.lo
		loTest := bpf.JumpGreaterThan
		if c.Op == opGE {
			loTest = bpf.JumpGreaterOrEqual
		}
		r.load(offHi)
		r.jump(bpf.JumpGreaterThan, hi, 3, 0)
		r.jump(bpf.JumpEqual, hi, 0, F)
		r.load(offLo)
		r.jump(loTest, lo, 0, F)
	case opLT, opLE: // not (>=), not (>)
		loTest := bpf.JumpGreaterOrEqual
		if c.Op == opLE {
			loTest = bpf.JumpGreaterThan
		}
		r.load(offHi)
		r.jump(bpf.JumpGreaterThan, hi, F, 0)
		r.jump(bpf.JumpEqual, hi, 0, 2)
		r.load(offLo)
		r.jump(loTest, lo, F, 0)
	}
}

// resolveFails points the rule's failJump targets past its last
// instruction.
func (r *asm) resolveFails() {
	for i, in := range r.ins {
		j, ok := in.(bpf.JumpIf)
		if !ok {
			continue
		}
		end := len(r.ins) - i - 1
		if end > 254 {
			r.err = errdefs.InvalidArgument("seccomp profile: a rule is too long to compile")
			return
		}
		if j.SkipTrue == failJump {
			j.SkipTrue = uint8(end)
		}
		if j.SkipFalse == failJump {
			j.SkipFalse = uint8(end)
		}
		r.ins[i] = j
	}
}

// encode assembles the program into struct sock_filter's bytes.
func (a *asm) encode() ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	if len(a.ins) > protocol.MaxSeccompInstructions {
		return nil, errdefs.InvalidArgument("seccomp profile: %d instructions compiled, the kernel takes at most %d",
			len(a.ins), protocol.MaxSeccompInstructions)
	}
	raw, err := bpf.Assemble(a.ins)
	if err != nil {
		return nil, fmt.Errorf("assembling seccomp program: %w", err)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, in := range raw {
		out = binary.LittleEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.LittleEndian.AppendUint32(out, in.K)
	}
	return out, nil
}

// Decode reads a program's bytes back into instructions (for tests and
// inspection).
func Decode(prog []byte) ([]bpf.Instruction, error) {
	if len(prog)%8 != 0 {
		return nil, errdefs.InvalidArgument("seccomp program: %d bytes, not a multiple of 8", len(prog))
	}
	raw := make([]bpf.RawInstruction, len(prog)/8)
	for i := range raw {
		b := prog[8*i:]
		raw[i] = bpf.RawInstruction{Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		return nil, errdefs.InvalidArgument("seccomp program: an instruction does not decode")
	}
	return ins, nil
}
