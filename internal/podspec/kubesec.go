package podspec

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
)

// Kubernetes securityContext fields that confine a container, at pod
// and container level (the container's win): capabilities, privileged,
// allowPrivilegeEscalation, seccompProfile. They become the container
// spec's docker-like fields (internal/secpolicy resolves them in hyperd).

type kubeCapabilities struct {
	Add  []string `json:"add"`
	Drop []string `json:"drop"`
}

type kubeSeccompProfile struct {
	Type             string  `json:"type"`
	LocalhostProfile *string `json:"localhostProfile"`
}

// kubeConfine sets c's capabilities, privileged mode and security
// options from its securityContext own and the pod's seccompProfile.
func kubeConfine(p *problems, fp string, c *types.ContainerSpec, podSeccomp *kubeSeccompProfile, own *kubeSecurity) {
	fp = field(fp, "securityContext")
	profile, profilePath := podSeccomp, "spec.securityContext.seccompProfile"
	if own != nil {
		if own.Capabilities != nil {
			c.CapAdd, c.CapDrop = own.Capabilities.Add, own.Capabilities.Drop
		}
		if own.Privileged != nil {
			c.Privileged = *own.Privileged
		}
		if own.SeccompProfile != nil {
			profile, profilePath = own.SeccompProfile, field(fp, "seccompProfile")
		}
		if ape := own.AllowPrivilegeEscalation; ape != nil && !*ape {
			switch {
			case c.Privileged:
				p.errorf(field(fp, "allowPrivilegeEscalation"), "cannot be false for a privileged container")
			case slices.ContainsFunc(c.CapAdd, func(s string) bool {
				return strings.EqualFold(strings.TrimPrefix(strings.ToUpper(s), "CAP_"), "SYS_ADMIN")
			}):
				p.errorf(field(fp, "allowPrivilegeEscalation"), "cannot be false with the capability SYS_ADMIN")
			default:
				c.SecurityOpt = append(c.SecurityOpt, "no-new-privileges")
			}
		}
	}
	if profile == nil {
		return
	}
	switch profile.Type {
	case "RuntimeDefault":
		if profile.LocalhostProfile != nil {
			p.errorf(field(profilePath, "localhostProfile"), "only for type Localhost")
		}
	case "Unconfined":
		if profile.LocalhostProfile != nil {
			p.errorf(field(profilePath, "localhostProfile"), "only for type Localhost")
		}
		c.SecurityOpt = append(c.SecurityOpt, "seccomp=unconfined")
	case "Localhost":
		lp := profile.LocalhostProfile
		switch {
		case lp == nil || *lp == "":
			p.errorf(field(profilePath, "localhostProfile"), "type Localhost needs a localhostProfile: a file in hyperd's seccomp profile directory")
		case !filepath.IsLocal(*lp):
			p.errorf(field(profilePath, "localhostProfile"), "%q is not a path inside hyperd's seccomp profile directory", *lp)
		default:
			c.SecurityOpt = append(c.SecurityOpt, "seccomp=localhost/"+*lp)
		}
	case "":
		p.errorf(field(profilePath, "type"), "missing: RuntimeDefault, Unconfined or Localhost")
	default:
		p.errorf(field(profilePath, "type"), "%q: want RuntimeDefault, Unconfined or Localhost", profile.Type)
	}
}
