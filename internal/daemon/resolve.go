package daemon

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// This file is the one place where a reference to a container is
// resolved, as docker's per-container commands (exec, logs, attach, top,
// stats, cp) take one:
//
//   - with an explicit container (-c NAME), ref names the pod (full ID,
//     name or unique ID prefix: lookup);
//   - "POD/CONTAINER" names the pod and its container;
//   - a bare ref is a pod first (its first container); else a container's
//     name, which must be unique across pods (ambiguous: Conflict, naming
//     the candidates as POD/CONTAINER).
//
// Pod names cannot hold "/" (checkPodName), so the split is unambiguous.

// findContainer resolves ref (and container, "" unless -c was given) to a
// pod and one of its containers' names. inits allows init containers
// (logs shows them; exec and attach do not reach them).
func (d *Daemon) findContainer(ref, container string, inits bool) (*pod, string, error) {
	podRef, name := ref, container
	if before, after, ok := strings.Cut(ref, "/"); ok {
		if container != "" {
			return nil, "", errdefs.InvalidArgument("%q names a container already: give no -c %s", ref, container)
		}
		if after == "" {
			return nil, "", errdefs.InvalidArgument("%q: want POD/CONTAINER", ref)
		}
		podRef, name = before, after
	}
	p, err := d.lookup(podRef)
	if err != nil && name == "" && (errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrConflict)) {
		var byName *pod
		if byName, name, err = d.podOfContainer(ref, err); err != nil {
			return nil, "", err
		}
		p = byName
	}
	if err != nil {
		return nil, "", err
	}
	cs, init, ok := p.sb.Container(name)
	if !ok || (init && !inits) {
		return nil, "", errdefs.NotFound("pod %s has no container %q", p.rec.ID[:12], name)
	}
	return p, cs.Name, nil
}

// podOfContainer finds the one pod with a container named name; podErr is
// why name named no pod, returned when no container has the name either.
func (d *Daemon) podOfContainer(name string, podErr error) (*pod, string, error) {
	var cands []containerRef
	for _, p := range d.all() {
		st := p.sb.Status()
		for _, c := range st.Containers {
			if c.Name == name {
				cands = append(cands, containerRef{pod: p, podName: p.name(), id: p.rec.ID})
			}
		}
	}
	switch len(cands) {
	case 0:
		if errors.Is(podErr, errdefs.ErrNotFound) {
			return nil, "", errdefs.NotFound("no such pod or container: %s", name)
		}
		return nil, "", podErr
	case 1:
		return cands[0].pod, name, nil
	}
	return nil, "", errdefs.Conflict("container name %q is ambiguous: %s; name one as POD/CONTAINER", name, candidates(cands, name))
}

// containerRef is a candidate of an ambiguous container name.
type containerRef struct {
	pod     *pod
	podName string
	id      string
}

// candidates lists ambiguous matches as POD/CONTAINER, sorted.
func candidates(cands []containerRef, name string) string {
	var s []string
	for _, c := range cands {
		p := c.podName
		if p == "" {
			p = c.id[:12]
		}
		s = append(s, p+"/"+name)
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// ResolveContainer implements api.ContainerResolver: what ref (and
// container) name, for clients that need the pod before they act.
func (x Containers) ResolveContainer(ctx context.Context, ref, container string) (types.ContainerRef, error) {
	p, name, err := x.d.findContainer(ref, container, true)
	if err != nil {
		return types.ContainerRef{}, err
	}
	return types.ContainerRef{PodID: p.rec.ID, PodName: p.name(), Container: name}, nil
}
