package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// securityOptions are run's and create's flags on what confines the
// container (docker's).
type securityOptions struct {
	capAdd      []string
	capDrop     []string
	privileged  bool
	securityOpt []string
	readOnly    bool
}

func addSecurityFlags(f *pflag.FlagSet, o *securityOptions) {
	f.StringSliceVar(&o.capAdd, "cap-add", nil, "add Linux capabilities (CHOWN or CAP_CHOWN, ALL)")
	f.StringSliceVar(&o.capDrop, "cap-drop", nil, "drop Linux capabilities (ALL drops every one; --cap-add applies after)")
	f.BoolVar(&o.privileged, "privileged", false, "give extended privileges to the container: every capability, no seccomp filter, no masked paths, /sys read-write, the VM's devices")
	f.StringArrayVar(&o.securityOpt, "security-opt", nil, "security options: seccomp=unconfined|builtin|FILE|localhost/NAME, no-new-privileges[=true|false], systempaths=unconfined")
	f.BoolVar(&o.readOnly, "read-only", false, "mount the container's root filesystem as read only")
}

// set tells whether any of the flags was given.
func (o *securityOptions) set() bool {
	return len(o.capAdd) > 0 || len(o.capDrop) > 0 || o.privileged || len(o.securityOpt) > 0 || o.readOnly
}

// apply puts the flags into c. A seccomp=FILE profile is read here and
// sent as its content, as the docker CLI does; unconfined, builtin and
// localhost/NAME (a profile in hyperd's seccomp directory) go as they are.
func (o *securityOptions) apply(c *types.ContainerSpec) error {
	c.CapAdd, c.CapDrop, c.Privileged, c.ReadOnlyRootfs = o.capAdd, o.capDrop, o.privileged, o.readOnly || c.ReadOnlyRootfs
	for _, opt := range o.securityOpt {
		k, v, ok := strings.Cut(opt, "=")
		if !ok || k != "seccomp" || v == "unconfined" || v == "builtin" || strings.HasPrefix(v, "localhost/") {
			c.SecurityOpt = append(c.SecurityOpt, opt)
			continue
		}
		data, err := os.ReadFile(v)
		if err != nil {
			return errdefs.InvalidArgument("--security-opt seccomp: reading the profile: %w", err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, data); err != nil {
			return errdefs.InvalidArgument("--security-opt seccomp: %s: %w", v, err)
		}
		c.SecurityOpt = append(c.SecurityOpt, fmt.Sprintf("seccomp=%s", b.Bytes()))
	}
	return nil
}
