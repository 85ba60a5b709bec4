// Package sysctl says which kernel parameters a pod may set and where they
// live under /proc/sys. Both sides use it: hyperd refuses a pod whose
// sysctls are not allowed before any VM starts, and hyperstart checks them
// again before writing them in the pod's namespaces.
//
// Allowed are the parameters that Linux keeps per network or IPC
// namespace, the ones Docker and Kubernetes call namespaced: net.*,
// kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*. Every container of
// a pod shares its network and IPC namespaces, so a sysctl applies to the
// whole pod.
package sysctl

import (
	"fmt"
	"strings"
)

// MaxValueLen bounds a value ("250 32000 32 128" for kernel.sem).
const MaxValueLen = 1024

// ipcKeys are the IPC namespace's parameters outside fs.mqueue.
var ipcKeys = map[string]bool{
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
}

// Check checks a key and its value: the key well formed ("net.ipv4.ip_forward",
// or "net/ipv4/conf/eth0.100/forwarding" whose components may contain
// dots) and namespaced, the value one line of printable text.
func Check(key, value string) error {
	parts, err := split(key)
	if err != nil {
		return err
	}
	switch dotted := strings.Join(parts, "."); {
	case parts[0] == "net" && len(parts) > 1:
	case parts[0] == "fs" && len(parts) > 2 && parts[1] == "mqueue":
	case ipcKeys[dotted]:
	default:
		return fmt.Errorf("sysctl %q is not namespaced: a pod may set only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* (they apply to the pod's own network and IPC namespaces)", key)
	}
	if len(value) > MaxValueLen {
		return fmt.Errorf("sysctl %s: value longer than %d bytes", key, MaxValueLen)
	}
	for _, r := range value {
		if r < ' ' && r != '\t' || r == 0x7f {
			return fmt.Errorf("sysctl %s: value contains a control character", key)
		}
	}
	return nil
}

// Key is the canonical form of a key that passed Check, its path under
// /proc/sys: "net/ipv4/ip_forward" for "net.ipv4.ip_forward".
func Key(key string) string {
	parts, _ := split(key)
	return strings.Join(parts, "/")
}

// split splits key at its dots, or at its slashes if it has any.
func split(key string) ([]string, error) {
	if key == "" {
		return nil, fmt.Errorf("empty sysctl name")
	}
	sep := "."
	if strings.Contains(key, "/") {
		sep = "/"
	}
	parts := strings.Split(strings.Trim(key, "/"), sep)
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return nil, fmt.Errorf("bad sysctl name %q", key)
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' && sep == "/"
			if !ok {
				return nil, fmt.Errorf("bad sysctl name %q: character %q not allowed", key, c)
			}
		}
	}
	return parts, nil
}
