package cli

import (
	"slices"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// psFilter is ps's --filter flags as docker combines them: values of one
// key match if any matches, different keys must all match.
type psFilter map[string][]string

// psFilterKeys are the keys ps filters on.
var psFilterKeys = []string{"ancestor", "id", "label", "name", "status"}

// dockerStatuses are the statuses docker's ps filters on, as pod states;
// "" has no pod (paused, restarting, removing: no match).
var dockerStatuses = map[string]string{
	"created": types.StateCreated, "running": types.StateRunning, "exited": types.StateExited,
	"dead": types.StateFailed, "failed": types.StateFailed, "paused": "", "restarting": "", "removing": "",
}

// parsePsFilter parses KEY=VALUE flags.
func parsePsFilter(flags []string) (psFilter, error) {
	f := psFilter{}
	for _, s := range flags {
		k, v, ok := strings.Cut(s, "=")
		if !ok || !slices.Contains(psFilterKeys, k) {
			return nil, errdefs.InvalidArgument("invalid filter %q: want KEY=VALUE, KEY one of %s", s, strings.Join(psFilterKeys, ", "))
		}
		if _, known := dockerStatuses[v]; k == "status" && !known {
			return nil, errdefs.InvalidArgument("invalid filter 'status=%s': want created, running, exited, dead (failed), paused, restarting or removing", v)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// needsAll: a status filter shows pods of every state, as docker's does.
func (f psFilter) needsAll() bool { return len(f["status"]) > 0 }

// match tells whether pod p passes every key.
func (f psFilter) match(p types.Pod) bool {
	for k, vs := range f {
		if !slices.ContainsFunc(vs, func(v string) bool { return psMatch(k, v, p) }) {
			return false
		}
	}
	return true
}

// psMatch tells whether p matches filter k=v.
func psMatch(k, v string, p types.Pod) bool {
	switch k {
	case "status":
		return dockerStatuses[v] != "" && dockerStatuses[v] == p.State
	case "name":
		return strings.Contains(p.Name, v)
	case "id":
		return strings.HasPrefix(p.ID, v)
	case "label":
		key, val, hasVal := strings.Cut(v, "=")
		got, ok := podLabels(p)[key]
		return ok && (!hasVal || got == val)
	case "ancestor":
		return slices.ContainsFunc(p.Containers, func(c types.Container) bool { return sameImage(v, c) })
	}
	return false
}

// sameImage tells whether ref names container c's image: as given, in
// its familiar form (busybox for docker.io/library/busybox:latest), or
// by ID (with or without sha256:, any prefix of 4 or more digits).
func sameImage(ref string, c types.Container) bool {
	norm := func(s string) string { return strings.TrimSuffix(familiarName(s), ":latest") }
	if ref == c.Image || norm(ref) == norm(c.Image) {
		return true
	}
	id := strings.TrimPrefix(c.ImageID, "sha256:")
	hex := strings.TrimPrefix(ref, "sha256:")
	return len(hex) >= 4 && strings.HasPrefix(id, hex)
}

// selectPods filters pods (newest first) and keeps the last n created
// (n < 0: all).
func selectPods(pods []types.Pod, f psFilter, n int) []types.Pod {
	var out []types.Pod
	for _, p := range pods {
		if f.match(p) {
			out = append(out, p)
		}
	}
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
