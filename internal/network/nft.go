package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// TableName is Hyper's nftables table (family ip): everything Hyper adds
// to the host's firewall is in it, and it is deleted when no pod needs it.
const TableName = "hyper"

// The table's chains: DNAT of published ports for traffic that arrives
// (prerouting) and that the host itself sends (output), masquerade of
// pods' outbound traffic (postrouting).
const (
	chainPre  = "prerouting"
	chainOut  = "output"
	chainPost = "postrouting"
)

var table = &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}

// firewall is Hyper's nftables table in the current network namespace.
type firewall struct {
	bridge string
	subnet netip.Prefix
}

// ensure creates the table with its chains and masquerade rules if it
// does not exist (one atomic batch: the table is there whole or not at
// all).
func (f firewall) ensure() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nftables: looking up table %s: %w", TableName, err)
	}
	c.AddTable(table)
	accept := nftables.ChainPolicyAccept
	for _, ch := range []struct {
		name string
		hook *nftables.ChainHook
		prio *nftables.ChainPriority
	}{
		{chainPre, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
		{chainOut, nftables.ChainHookOutput, nftables.ChainPriorityNATDest},
		{chainPost, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
	} {
		c.AddChain(&nftables.Chain{Name: ch.name, Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: ch.hook, Priority: ch.prio, Policy: &accept})
	}
	post := &nftables.Chain{Name: chainPost, Table: table}
	// Pods' traffic leaving the bridge goes out as the host's.
	c.AddRule(&nftables.Rule{Table: table, Chain: post, Exprs: append(append(
		matchAddr(12, f.subnet), matchIfname(expr.CmpOpNeq, f.bridge)...), &expr.Masq{})})
	// Host-local traffic to 127.0.0.1:PORT, DNATed to a pod, needs a
	// source the pod can answer.
	c.AddRule(&nftables.Rule{Table: table, Chain: post, Exprs: append(append(
		matchAddr(12, netip.MustParsePrefix("127.0.0.0/8")), matchIfname(expr.CmpOpEq, f.bridge)...), &expr.Masq{})})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: creating table %s: %w", TableName, err)
	}
	return nil
}

// addDNAT adds the DNAT rules of pod's published ports, tagged with the
// pod's ID, in one batch.
func (f firewall) addDNAT(pod string, to netip.Addr, ports []Port) error {
	if len(ports) == 0 {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	for _, name := range []string{chainPre, chainOut} {
		ch := &nftables.Chain{Name: name, Table: table}
		for _, p := range ports {
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: dnatExprs(p, to), UserData: podComment(pod)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: publishing ports of pod %s: %w", short(pod), err)
	}
	return nil
}

// dnatExprs: [ip daddr HOSTIP | fib daddr type local] PROTO dport HOSTPORT
// dnat to ADDR:PORT.
func dnatExprs(p Port, to netip.Addr) []expr.Any {
	var e []expr.Any
	if p.HostIP.IsUnspecified() || !p.HostIP.IsValid() {
		e = append(e, &expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
	} else {
		e = append(e, matchAddr(16, netip.PrefixFrom(p.HostIP, 32))...)
	}
	proto := byte(unix.IPPROTO_TCP)
	if p.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: to.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.GuestPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

// matchAddr matches the IPv4 address at offset (12 source, 16
// destination) of the network header against p.
func matchAddr(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}}
	if p.Bits() < 32 {
		mask := netipMask(p.Bits())
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
}

func netipMask(bits int) []byte {
	m := ^uint32(0) << (32 - bits)
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// matchIfname compares the output interface's name with name.
func matchIfname(op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// commentPrefix starts the comment of every pod's rule: "hyper pod ID".
const commentPrefix = "hyper pod "

func podComment(pod string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, commentPrefix+pod)
}

// rulePod is the pod a rule was added for.
func rulePod(r *nftables.Rule) (string, bool) {
	s, ok := userdata.GetString(r.UserData, userdata.TypeComment)
	if !ok || !strings.HasPrefix(s, commentPrefix) {
		return "", false
	}
	return strings.TrimPrefix(s, commentPrefix), true
}

// delRules deletes the pod rules for which drop says so and returns how
// many pod rules are left. No table: nothing to do.
func (f firewall) delRules(drop func(pod string) bool) (left int, err error) {
	c, err := nftables.New()
	if err != nil {
		return 0, fmt.Errorf("nftables: %w", err)
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err != nil {
		return 0, nil
	}
	for _, name := range []string{chainPre, chainOut} {
		rules, err := c.GetRules(table, &nftables.Chain{Name: name, Table: table})
		if err != nil {
			return 0, fmt.Errorf("nftables: listing %s %s: %w", TableName, name, err)
		}
		for _, r := range rules {
			pod, ok := rulePod(r)
			if !ok {
				continue
			}
			if !drop(pod) {
				left++
				continue
			}
			if err := c.DelRule(r); err != nil {
				return 0, fmt.Errorf("nftables: %w", err)
			}
		}
	}
	if err := c.Flush(); err != nil {
		return 0, fmt.Errorf("nftables: deleting rules: %w", err)
	}
	return left, nil
}

// remove deletes the table; none is not an error.
func (f firewall) remove() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err != nil {
		return nil
	}
	c.DelTable(table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: deleting table %s: %w", TableName, err)
	}
	return nil
}
