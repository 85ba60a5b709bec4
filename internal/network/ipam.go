package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/store"
)

// leasesBucket keeps the IPAM's leases: address -> lease.
const leasesBucket = "ipam"

// Lease is one pod's address.
type Lease struct {
	Pod  string     `json:"pod"`
	Addr netip.Addr `json:"addr"`
}

// IPAM hands out the addresses of a subnet to pods, one each, and keeps
// its leases in hyperd's state database: an address is never given twice
// while it is leased, and is free again once released.
type IPAM struct {
	db      *store.DB
	subnet  netip.Prefix
	gateway netip.Addr
}

// NewIPAM returns the IPAM of subnet (IPv4, at most /30) whose first
// address is the gateway's.
func NewIPAM(db *store.DB, subnet netip.Prefix) (*IPAM, error) {
	subnet = subnet.Masked()
	if !subnet.Addr().Is4() || subnet.Bits() > 30 {
		return nil, errdefs.InvalidArgument("subnet %s: want an IPv4 network of at least 4 addresses (/30)", subnet)
	}
	return &IPAM{db: db, subnet: subnet, gateway: subnet.Addr().Next()}, nil
}

// Gateway is the subnet's first address, the host's on the bridge.
func (m *IPAM) Gateway() netip.Addr { return m.gateway }

// Subnet is the network the IPAM hands out addresses of.
func (m *IPAM) Subnet() netip.Prefix { return m.subnet }

// Allocate leases the lowest free address to pod; a pod that has a lease
// gets the same address again. Unavailable when the subnet is full.
func (m *IPAM) Allocate(pod string) (netip.Addr, error) {
	leases, err := m.Leases()
	if err != nil {
		return netip.Addr{}, err
	}
	used := map[netip.Addr]bool{}
	for _, l := range leases {
		if l.Pod == pod {
			return l.Addr, nil
		}
		used[l.Addr] = true
	}
	broadcast := lastAddr(m.subnet)
	for a := m.gateway.Next(); m.subnet.Contains(a) && a != broadcast; a = a.Next() {
		if used[a] {
			continue
		}
		err := m.db.Create(leasesBucket, a.String(), Lease{Pod: pod, Addr: a})
		if errors.Is(err, errdefs.ErrConflict) {
			continue // leased meanwhile
		}
		if err != nil {
			return netip.Addr{}, fmt.Errorf("leasing %s: %w", a, err)
		}
		return a, nil
	}
	return netip.Addr{}, errdefs.Unavailable("no free address left in %s (%d leased)", m.subnet, len(leases))
}

// Release frees pod's leases; a pod without one is not an error.
func (m *IPAM) Release(pod string) error {
	leases, err := m.Leases()
	if err != nil {
		return err
	}
	for _, l := range leases {
		if l.Pod != pod {
			continue
		}
		if err := m.db.Delete(leasesBucket, l.Addr.String()); err != nil {
			return fmt.Errorf("releasing %s of pod %s: %w", l.Addr, short(pod), err)
		}
	}
	return nil
}

// Leases lists every lease (of this subnet or an earlier one).
func (m *IPAM) Leases() ([]Lease, error) {
	var out []Lease
	err := m.db.Each(leasesBucket, func(key string, raw []byte) error {
		var l Lease
		if err := json.Unmarshal(raw, &l); err != nil {
			return fmt.Errorf("decoding lease %s: %w", key, err)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// lastAddr is the broadcast address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// short is a pod ID as logs and errors show it.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
