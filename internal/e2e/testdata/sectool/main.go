// Package main is sectool, a test helper of security_test.go, copied into the
// pod's image: it prints its effective user id, or makes one syscall
// that Docker's default seccomp profile denies and prints its result.
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sectool euid|add_key|unshare-uts|init_module|settimeofday")
		os.Exit(2)
	}
	var errno syscall.Errno
	switch os.Args[1] {
	case "euid":
		fmt.Printf("euid=%d\n", os.Geteuid())
		return
	case "add_key":
		typ, desc := []byte("user\x00"), []byte("k\x00")
		_, _, errno = syscall.Syscall6(syscall.SYS_ADD_KEY, uintptr(unsafe.Pointer(&typ[0])), uintptr(unsafe.Pointer(&desc[0])), 0, 0, 0xfffffffd, 0)
	case "unshare-uts":
		_, _, errno = syscall.Syscall(syscall.SYS_UNSHARE, syscall.CLONE_NEWUTS, 0, 0)
	case "init_module":
		_, _, errno = syscall.Syscall(syscall.SYS_INIT_MODULE, 0, 0, 0)
	case "settimeofday":
		tv := syscall.Timeval{Sec: 946684800}
		_, _, errno = syscall.Syscall(syscall.SYS_SETTIMEOFDAY, uintptr(unsafe.Pointer(&tv)), 0, 0)
	default:
		fmt.Fprintln(os.Stderr, "unknown", os.Args[1])
		os.Exit(2)
	}
	if errno == 0 {
		fmt.Printf("%s=ok\n", os.Args[1])
		return
	}
	fmt.Printf("%s=%s\n", os.Args[1], errnoName(errno))
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.ENOSYS:
		return "ENOSYS"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.EFAULT:
		return "EFAULT"
	}
	return fmt.Sprintf("errno%d", int(e))
}
