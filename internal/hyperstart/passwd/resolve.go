package passwd

import (
	"fmt"
	"strings"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
)

// Exec is the identity a process runs with.
type Exec struct {
	UID    int
	GID    int
	Groups []int // supplementary groups
	Home   string
}

// MaxGroups bounds the supplementary groups of a process (NGROUPS_MAX is
// 65536, but no sane image needs more than this).
const MaxGroups = 1024

// Resolve resolves spec ("", "name", "uid", "name:group", "uid:gid") and
// additional group names or gids against the parsed files.
//
// An unknown user or group name is an error. A numeric uid missing from
// passwd is allowed and gets gid 0 and home "/", as with Docker.
// Supplementary groups are the groups listing the user plus additional.
func Resolve(spec string, additional []string, users []User, groups []Group) (Exec, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if hasGroup && groupPart == "" {
		return Exec{}, errs.Invalid("invalid user %q: empty group", spec)
	}
	ex := Exec{Home: "/"}
	var name string
	switch u, found := lookupUser(userPart, users); {
	case userPart == "":
		ex.UID, ex.GID = 0, 0
		if found {
			ex.GID, ex.Home, name = u.GID, u.Home, u.Name
		}
	case found:
		ex.UID, ex.GID, ex.Home, name = u.UID, u.GID, u.Home, u.Name
	default:
		uid, ok := parseID(userPart)
		if !ok {
			return Exec{}, errs.Invalid("unable to find user %s: no matching entries in passwd file", userPart)
		}
		ex.UID, ex.GID = uid, 0
	}
	if ex.Home == "" {
		ex.Home = "/"
	}
	if hasGroup {
		gid, err := resolveGroup(groupPart, groups)
		if err != nil {
			return Exec{}, err
		}
		ex.GID = gid
	}
	seen := map[int]bool{}
	add := func(gid int) error {
		if seen[gid] {
			return nil
		}
		if len(ex.Groups) >= MaxGroups {
			return errs.Invalid("too many supplementary groups (max %d)", MaxGroups)
		}
		seen[gid] = true
		ex.Groups = append(ex.Groups, gid)
		return nil
	}
	if name != "" {
		for _, g := range groups {
			for _, m := range g.Members {
				if m == name {
					if err := add(g.GID); err != nil {
						return Exec{}, err
					}
					break
				}
			}
		}
	}
	for _, a := range additional {
		gid, err := resolveGroup(a, groups)
		if err != nil {
			return Exec{}, err
		}
		if err := add(gid); err != nil {
			return Exec{}, err
		}
	}
	return ex, nil
}

// lookupUser finds a user by name, then by uid if s is numeric. An empty
// s looks up uid 0 (for its home directory).
func lookupUser(s string, users []User) (User, bool) {
	if s == "" {
		s = "0"
	} else {
		for _, u := range users {
			if u.Name == s {
				return u, true
			}
		}
	}
	if uid, ok := parseID(s); ok {
		for _, u := range users {
			if u.UID == uid {
				return u, true
			}
		}
	}
	return User{}, false
}

// resolveGroup resolves a group name or gid. A numeric gid need not exist.
func resolveGroup(s string, groups []Group) (int, error) {
	if s == "" {
		return 0, errs.Invalid("empty group name")
	}
	for _, g := range groups {
		if g.Name == s {
			return g.GID, nil
		}
	}
	if gid, ok := parseID(s); ok {
		return gid, nil
	}
	return 0, errs.Invalid("unable to find group %s: no matching entries in group file", s)
}

// ResolveFiles reads passwdPath and groupPath (missing files are empty)
// and resolves spec against them.
func ResolveFiles(spec string, additional []string, passwdPath, groupPath string) (Exec, error) {
	users, err := ReadPasswdFile(passwdPath)
	if err != nil {
		return Exec{}, errs.Invalid("%w", err)
	}
	groups, err := ReadGroupFile(groupPath)
	if err != nil {
		return Exec{}, errs.Invalid("%w", err)
	}
	ex, err := Resolve(spec, additional, users, groups)
	if err != nil {
		return Exec{}, fmt.Errorf("resolving user %q: %w", spec, err)
	}
	return ex, nil
}
