//go:build !amd64

package qemu

// hostTSCKHz is unknown off amd64.
func hostTSCKHz() uint64 { return 0 }
