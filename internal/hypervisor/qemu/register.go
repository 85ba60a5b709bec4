package qemu

import (
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// DriverName is the name the QEMU driver is registered under.
const DriverName = "qemu"

func init() {
	hypervisor.Register(DriverName, func(o hypervisor.Options) (hypervisor.Driver, error) {
		switch o.Transport {
		case "", TransportSerial, TransportVsock:
		default:
			return nil, errdefs.InvalidArgument("transport %q: want %s or %s", o.Transport, TransportSerial, TransportVsock)
		}
		return New(Options{Binary: o.Binary, Transport: o.Transport}), nil
	})
}
