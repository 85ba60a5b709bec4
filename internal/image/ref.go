package image

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// NormalizeName turns a user-supplied image name into its canonical form:
// "busybox" is "docker.io/library/busybox:latest", "index.docker.io/x/y"
// is "docker.io/x/y:latest", and "repo@sha256:..." keeps its digest. It
// returns an errdefs.ErrInvalidArgument error for malformed names.
func NormalizeName(s string) (string, error) {
	ref, err := parseName(s)
	if err != nil {
		return "", err
	}
	return canonical(ref), nil
}

func parseName(s string) (name.Reference, error) {
	if s == "" {
		return nil, errdefs.InvalidArgument("empty image reference")
	}
	if len(s) > 1024 {
		return nil, errdefs.InvalidArgument("image reference longer than 1024 bytes")
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, errdefs.InvalidArgument("invalid image reference %q: %w", s, err)
	}
	return ref, nil
}

func registry(r name.Reference) string {
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		return "docker.io"
	}
	return reg
}

func canonical(r name.Reference) string {
	repo := registry(r) + "/" + r.Context().RepositoryStr()
	switch v := r.(type) {
	case name.Digest:
		return repo + "@" + v.DigestStr()
	case name.Tag:
		return repo + ":" + v.TagStr()
	}
	return r.Name()
}

// FamiliarName is the short form Docker shows and writes in RepoTags:
// "docker.io/library/busybox:latest" is "busybox:latest".
func FamiliarName(canon string) string {
	s := strings.TrimPrefix(canon, "docker.io/")
	if s == canon {
		return canon
	}
	if rest, ok := strings.CutPrefix(s, "library/"); ok && !strings.Contains(strings.SplitN(rest, ":", 2)[0], "/") {
		return rest
	}
	return s
}

// isHex reports whether s is a non-empty lower-case hex string.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
