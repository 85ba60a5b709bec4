package security

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// insnSize is the size of a struct sock_filter.
const insnSize = 8

// ParseSeccomp decodes a host-compiled program: 8 little-endian bytes an
// instruction (code uint16, jt uint8, jf uint8, k uint32), 1 to
// protocol.MaxSeccompInstructions of them. The kernel checks the program
// itself when it is installed.
func ParseSeccomp(f *protocol.SeccompFilter) ([]unix.SockFilter, error) {
	n := len(f.Program)
	if n == 0 || n%insnSize != 0 {
		return nil, errs.Invalid("seccomp program of %d bytes is not a whole number of %d-byte instructions", n, insnSize)
	}
	if n/insnSize > protocol.MaxSeccompInstructions {
		return nil, errs.Invalid("seccomp program of %d instructions is longer than %d", n/insnSize, protocol.MaxSeccompInstructions)
	}
	prog := make([]unix.SockFilter, n/insnSize)
	for i := range prog {
		b := f.Program[i*insnSize:]
		prog[i] = unix.SockFilter{
			Code: binary.LittleEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.LittleEndian.Uint32(b[4:]),
		}
	}
	return prog, nil
}

// installSeccomp installs prog on the calling thread: the process it
// execs keeps it. It needs no_new_privs or CAP_SYS_ADMIN.
func installSeccomp(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return fmt.Errorf("installing seccomp filter of %d instructions: %w", len(prog), e)
	}
	return nil
}
