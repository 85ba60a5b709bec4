// Package resume brings a guest that was restored from a VM template up to
// date (docs/adr/0009-vm-templates.md): its wall clock is the template's,
// its kernel RNG state is every clone's, and its NICs carry the template's
// MAC addresses. The host sends the fix in its first call, Resume.
package resume

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/netcfg"
	"github.com/hyperhq/hyper/internal/protocol"
)

// maxMACs bounds the NICs one request may change.
const maxMACs = 8

// change is one checked MAC change.
type change struct{ from, to net.HardwareAddr }

// Check validates a request without changing anything.
func Check(req protocol.ResumeRequest) error {
	_, err := check(req)
	return err
}

func check(req protocol.ResumeRequest) ([]change, error) {
	if req.WallNanos <= 0 {
		return nil, errs.Invalid("wall clock %d is not after the epoch", req.WallNanos)
	}
	if n := len(req.Entropy); n < protocol.MinEntropy || n > protocol.MaxEntropy {
		return nil, errs.Invalid("%d bytes of entropy: want %d to %d", n, protocol.MinEntropy, protocol.MaxEntropy)
	}
	if len(req.MACs) > maxMACs {
		return nil, errs.Invalid("%d MAC changes: at most %d", len(req.MACs), maxMACs)
	}
	var cs []change
	for _, m := range req.MACs {
		from, err1 := net.ParseMAC(m.From)
		to, err2 := net.ParseMAC(m.To)
		if err1 != nil || err2 != nil || len(from) != 6 || len(to) != 6 {
			return nil, errs.Invalid("invalid MAC change %q -> %q", m.From, m.To)
		}
		if to[0]&1 != 0 {
			return nil, errs.Invalid("MAC %s is multicast", m.To)
		}
		cs = append(cs, change{from, to})
	}
	return cs, nil
}

// Apply sets the clock, feeds and reseeds the kernel RNG, and changes the
// NICs' MAC addresses. It runs as root in the VM.
func Apply(req protocol.ResumeRequest) error {
	cs, err := check(req)
	if err != nil {
		return err
	}
	before := time.Now()
	ts := unix.NsecToTimespec(req.WallNanos)
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return errs.Internal("setting the clock: %w", err)
	}
	if err := addEntropy(req.Entropy); err != nil {
		return errs.Internal("feeding the RNG: %w", err)
	}
	for _, c := range cs {
		if err := netcfg.SetMAC(c.from, c.to); err != nil {
			return errs.Internal("%w", err)
		}
	}
	slog.Info("resumed", "clockStep", time.Unix(0, req.WallNanos).Sub(before).Round(time.Millisecond), "macs", len(cs))
	return nil
}

// addEntropy credits b to the kernel's input pool (RNDADDENTROPY) and
// makes the RNG reseed from it now (RNDRESEEDCRNG), so that clones of one
// template stop sharing a random state.
func addEntropy(b []byte) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(b))
	*(*int32)(unsafe.Pointer(&info[0])) = int32(8 * len(b))
	*(*int32)(unsafe.Pointer(&info[4])) = int32(len(b))
	copy(info[8:], b)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); e != 0 {
		return fmt.Errorf("RNDADDENTROPY: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDRESEEDCRNG, 0); e != 0 {
		return fmt.Errorf("RNDRESEEDCRNG: %w", e)
	}
	return nil
}
