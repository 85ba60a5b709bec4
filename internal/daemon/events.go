package daemon

import (
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/events"
	"github.com/hyperhq/hyper/internal/image"
	"github.com/hyperhq/hyper/internal/sandbox"
)

// Events is the daemon's event log, for the API (GET /v1/events).
func (d *Daemon) Events() *events.Bus { return d.events }

// Publish adds an event to hyperd's event log: typ is one of the
// types.Event* values, action a types.Action* one, id the actor's (a
// pod's full ID, an image's ID, a volume's name); attrs may be nil and
// must not be changed after. It never blocks.
func (d *Daemon) Publish(typ, action, id string, attrs map[string]string) {
	if d.events == nil { // a Daemon not made by New (tests)
		return
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	d.events.Publish(types.Event{Type: typ, Action: action, Actor: types.EventActor{ID: id, Attributes: attrs}})
}

// publish adds a container event of pod p (hyperctl's pod is docker's
// container): attrs gets the pod's name and labels, the image of
// container ctr in it ("" is the first) and, in a pod of several
// containers, ctr's name.
func (p *pod) publish(action, ctr string, attrs map[string]string) {
	if attrs == nil {
		attrs = map[string]string{}
	}
	p.mu.Lock()
	attrs["name"] = p.rec.Name
	if ctr == "" && len(p.rec.Spec.Containers) > 0 {
		ctr = p.rec.Spec.Containers[0].Name
	}
	m, ok := p.meta[ctr]
	if ok {
		attrs["image"] = m.image
	}
	if ctr != "" && len(p.meta) > 1 { // which of the pod's containers
		attrs["container"] = ctr
	}
	for _, labels := range []map[string]string{p.rec.Spec.Labels, m.spec.Labels} {
		for k, v := range labels {
			if _, taken := attrs[k]; !taken {
				attrs[k] = v // docker's events carry the container's labels
			}
		}
	}
	id := p.rec.ID
	p.mu.Unlock()
	p.d.Publish(types.EventContainer, action, id, attrs)
}

// sandboxEvent is the pod's sandbox.Sink: its containers' start, oom and
// die events on the bus.
func (p *pod) sandboxEvent(e sandbox.Event) {
	switch e.Kind {
	case sandbox.EventStart:
		p.publish(types.ActionStart, e.Container, nil)
	case sandbox.EventOOM:
		p.publish(types.ActionOOM, e.Container, nil)
	case sandbox.EventDie:
		p.publish(types.ActionDie, e.Container, map[string]string{"exitCode": strconv.Itoa(e.ExitCode)})
	case sandbox.EventVMExit:
		p.d.vmExited(e.VMExit)
	}
}

// publishImages publishes action (load, pull) for each of ims, under
// each of its names (its ID if it has none).
func (d *Daemon) publishImages(action string, ims ...types.Image) {
	for _, im := range ims {
		names := im.Names
		if len(names) == 0 {
			names = []string{im.ID}
		}
		for _, n := range names {
			d.Publish(types.EventImage, action, im.ID, map[string]string{"name": n})
		}
	}
}

// publishRemoval publishes an image removal: untag for each name
// removed, delete if the image went.
func (d *Daemon) publishRemoval(r image.RemoveResult) {
	for _, n := range r.Untagged {
		name := image.FamiliarName(n)
		id := r.Deleted
		if id == "" { // the image stays under other names
			id = name
		}
		d.Publish(types.EventImage, types.ActionUntag, id, map[string]string{"name": name})
	}
	if r.Deleted != "" {
		d.Publish(types.EventImage, types.ActionDelete, r.Deleted, map[string]string{"name": r.Deleted})
	}
}

// eventAttrs are an exec's event attributes, as docker's: its ID and
// command. e.id and e.spec do not change.
func (e *execution) eventAttrs() map[string]string {
	return map[string]string{"execID": e.id, "command": strings.Join(e.spec.Args, " ")}
}
