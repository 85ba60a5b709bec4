package qemu

import "github.com/hyperhq/hyper/internal/hypervisor"

// DriverName is the name the QEMU driver is registered under.
const DriverName = "qemu"

func init() {
	hypervisor.Register(DriverName, func(o hypervisor.Options) (hypervisor.Driver, error) {
		return New(Options{Binary: o.Binary}), nil
	})
}
