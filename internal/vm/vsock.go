package vm

import "hash/fnv"

// Transports of the guest channel.
const (
	TransportSerial = "serial"
	TransportVsock  = "vsock"
)

// vsockPort is where hyperstart listens when the channel is vsock.
const vsockPort = 1024

// vsockCID derives a VM's vsock context ID from its ID: stable across a
// daemon restart (re-attach), 3 and up (0-2 are reserved).
func vsockCID(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return 3 + h.Sum32()%(1<<30)
}
