// Package network is the host side of pods in bridge mode: a Linux bridge
// (hyper0) with the gateway's address, one tap per pod on it, an address
// per pod from an IPAM kept in hyperd's state, and Hyper's own nftables
// table (masquerade of pods' outbound traffic, DNAT of published ports).
//
// Every resource of a pod is released by Detach, and Reconcile releases
// those of pods whose VMs are gone after a hyperd restart. A pod's lease
// is taken first and released last, so a crash at any point leaves a
// lease naming what may be left, which Reconcile cleans. One hyperd per
// network namespace: the bridge and the table are the namespace's.
package network

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/store"
)

// Defaults of Config.
const (
	DefaultBridge = "hyper0"
	DefaultSubnet = "10.88.0.0/16"
	DefaultMTU    = 1500
)

// Config is the bridge network's configuration.
type Config struct {
	Bridge string       // the bridge's name
	Subnet netip.Prefix // pods' addresses; the first is the gateway's (the bridge's)
	MTU    int          // of the bridge, the taps and the pods' NICs
}

// Attachment is what a pod gets on the bridge.
type Attachment struct {
	Tap     string       // the host's tap device, for QEMU
	Address netip.Prefix // the pod's address, with the subnet's length
	Gateway netip.Addr
	MTU     int
}

// Bridge manages the bridge network of one hyperd.
type Bridge struct {
	cfg  Config
	ipam *IPAM
	fw   firewall
	log  *slog.Logger

	// mu is held across I/O on purpose (port reservations, IPAM leases in
	// the state database, netlink, nftables): it orders the changes to
	// the host's network, Attach, Detach and Reconcile one at a time, so
	// that a Detach that finds no lease left and removes the table cannot
	// interleave with an Attach that leases and adds rules to it. Nothing
	// that serves reads waits on it (Config and Leases do not take it);
	// it also guards held.
	mu   sync.Mutex
	held map[string][]io.Closer // reserved host ports, by pod
}

// New checks cfg (filling defaults) and returns the bridge network. It
// changes nothing on the host: the bridge and the table are made by the
// first Attach.
func New(cfg Config, db *store.DB, log *slog.Logger) (*Bridge, error) {
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = netip.MustParsePrefix(DefaultSubnet)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if len(cfg.Bridge) > 15 {
		return nil, errdefs.InvalidArgument("bridge name %q: at most 15 characters", cfg.Bridge)
	}
	if cfg.MTU < 68 || cfg.MTU > 65535 {
		return nil, errdefs.InvalidArgument("bridge MTU %d: want 68-65535", cfg.MTU)
	}
	ipam, err := NewIPAM(db, cfg.Subnet)
	if err != nil {
		return nil, err
	}
	cfg.Subnet = ipam.Subnet()
	return &Bridge{cfg: cfg, ipam: ipam, fw: firewall{bridge: cfg.Bridge, subnet: cfg.Subnet}, log: log,
		held: map[string][]io.Closer{}}, nil
}

// Config is the bridge's configuration, defaults filled in.
func (b *Bridge) Config() Config { return b.cfg }

// Attach gives pod an address, a tap on the bridge and DNAT rules for
// ports (whose host ports it holds). A host port in use is a Conflict;
// on any error nothing of the pod is left.
func (b *Bridge) Attach(pod string, ports []Port) (Attachment, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var undo cleanup.Cleanup
	defer undo.Clean()
	held, err := Reserve(ports)
	if err != nil {
		return Attachment{}, err
	}
	undo.Add(func() { closeAll(held) })
	ip, err := b.ipam.Allocate(pod)
	if err != nil {
		return Attachment{}, err
	}
	undo.Add(func() { b.release(pod) })
	gw := netip.PrefixFrom(b.ipam.Gateway(), b.cfg.Subnet.Bits())
	br, err := ensureBridge(b.cfg.Bridge, gw, b.cfg.MTU)
	if err != nil {
		return Attachment{}, errdefs.Unavailable("bridge network: %w", err)
	}
	if err := b.fw.ensure(); err != nil {
		return Attachment{}, errdefs.Unavailable("bridge network: %w", err)
	}
	tap, err := addTap(pod, br)
	if err != nil {
		return Attachment{}, errdefs.Unavailable("bridge network: %w", err)
	}
	if err := b.fw.addDNAT(pod, ip, ports); err != nil {
		return Attachment{}, errdefs.Unavailable("bridge network: %w", err)
	}
	b.held[pod] = held
	undo.Release()
	return Attachment{Tap: tap, Address: netip.PrefixFrom(ip, b.cfg.Subnet.Bits()), Gateway: gw.Addr(), MTU: b.cfg.MTU}, nil
}

// Detach releases everything of pod: its DNAT rules, tap, held ports
// and lease; and the table once no pod is left. A pod with nothing is not
// an error.
func (b *Bridge) Detach(pod string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	closeAll(b.held[pod])
	delete(b.held, pod)
	return b.release(pod)
}

// release deletes pod's rules and tap, then its lease (last: a failure
// before leaves the lease, and with it the pod for Reconcile), then the
// table if no lease is left. Called with b.mu held.
func (b *Bridge) release(pod string) error {
	_, err := b.fw.delRules(func(p string) bool { return p == pod })
	err = errors.Join(err, delTap(TapName(pod)))
	if err == nil {
		err = b.ipam.Release(pod)
	}
	err = errors.Join(err, b.removeIfUnused())
	if err != nil {
		return fmt.Errorf("releasing the network of pod %s: %w", short(pod), err)
	}
	return nil
}

// removeIfUnused deletes the table when no pod has a lease. The bridge
// stays, as docker0 does (ip link del hyper0 removes it).
func (b *Bridge) removeIfUnused() error {
	leases, err := b.ipam.Leases()
	if err != nil || len(leases) > 0 {
		return err
	}
	return b.fw.remove()
}

// Reconcile makes the host match the pods that still run after a hyperd
// restart (live: pod -> its published ports): every other pod's lease,
// tap and rules are released, and live pods' host ports held again.
func (b *Bridge) Reconcile(live map[string][]Port) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	leases, err := b.ipam.Leases()
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range leases {
		if _, ok := live[l.Pod]; !ok {
			b.log.Info("releasing the network of a pod that no longer runs", "pod", short(l.Pod), "addr", l.Addr)
			errs = append(errs, b.release(l.Pod))
		}
	}
	// Rules of pods without a lease (not made by Attach's order, but a
	// table edited by hand, or an older state database) go too.
	if _, err := b.fw.delRules(func(p string) bool { _, ok := live[p]; return !ok }); err != nil {
		errs = append(errs, err)
	}
	for pod, ports := range live {
		if _, ok := b.held[pod]; ok {
			continue
		}
		held, err := Reserve(ports)
		if err != nil {
			b.log.Warn("holding the published ports of a re-attached pod", "pod", short(pod), "err", err)
			continue
		}
		b.held[pod] = held
	}
	errs = append(errs, b.removeIfUnused())
	return errors.Join(errs...)
}

// Leases lists the IPAM's leases.
func (b *Bridge) Leases() ([]Lease, error) { return b.ipam.Leases() }
