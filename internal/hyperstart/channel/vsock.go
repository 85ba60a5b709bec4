package channel

import (
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mdlayher/vsock"

	"github.com/hyperhq/hyper/internal/protocol"
)

// VsockPortParam is the kernel command line parameter that selects vsock
// as the channel: hyper.vsock=PORT.
const VsockPortParam = protocol.VsockParam

// VsockPort returns the port named on the kernel command line, 0 if none.
func VsockPort(cmdline string) uint32 {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, VsockPortParam+"="); ok {
			if p, err := strconv.ParseUint(v, 10, 32); err == nil {
				return uint32(p)
			}
		}
	}
	return 0
}

// ReadCmdline reads the kernel command line.
func ReadCmdline() string {
	b, _ := os.ReadFile("/proc/cmdline")
	return string(b)
}

// VsockOpener listens on a vsock port and returns an open function for
// Serve that accepts the next host connection: the same channel as a
// virtio-serial port, over a different transport.
func VsockOpener(port uint32) (func() (io.ReadWriteCloser, error), error) {
	l, err := vsock.Listen(port, nil)
	if err != nil {
		return nil, err
	}
	return func() (io.ReadWriteCloser, error) { return l.Accept() }, nil
}
