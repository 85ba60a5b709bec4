package seccomp

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary the child of TestKernelRunsProgram.
const childEnv = "HYPER_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child installs Docker's default profile, compiled for the default
// capabilities, on all of its threads and reports what three syscalls
// return.
func child() int {
	f, err := Compile(Default(), defaultCaps)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	prog := make([]unix.SockFilter, len(f.Program)/8)
	for i := range prog {
		b := f.Program[8*i:]
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("no_new_privs:", err)
		return 1
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog))); e != 0 {
		fmt.Println("seccomp:", e)
		return 1
	}
	typ, desc := []byte("user\x00"), []byte("k\x00")
	_, _, addKey := unix.Syscall6(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(&typ[0])), uintptr(unsafe.Pointer(&desc[0])), 0, 0, 0, 0)
	_, _, clone3 := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	pid, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	fmt.Printf("add_key=%d clone3=%d getpid=%v\n", addKey, clone3, pid == uintptr(os.Getpid()))
	return 0
}

// TestKernelRunsProgram: the host's kernel takes the compiled default
// program (its checker is the guest's) and it denies and allows as the
// interpreter says.
func TestKernelRunsProgram(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := fmt.Sprintf("add_key=%d clone3=%d getpid=true", unix.EPERM, unix.ENOSYS)
	if strings.TrimSpace(string(out)) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}
