package podrec

import (
	"fmt"
	"time"
)

// podV1 is a record of version 1 (hyperd up to the pod core, ADR 0011):
// the REST API's Pod with hyperd's fields beside it, containers' specs,
// states and processes in three lists aligned by index. Its parts of the
// same JSON as version 2's are version 2's types, the rest is frozen here.
type podV1 struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// PodStatus holds the fields state, reason, exitCode, startedAt,
	// finishedAt, vm, network, ports, ipAddress and serials.
	PodStatus
	Spec           specV1        `json:"spec"`
	Containers     []containerV1 `json:"containers"`
	InitContainers []containerV1 `json:"initContainers,omitempty"`
	Dir            string        `json:"dir"`
	Procs          []Process     `json:"procs"`
	InitProcs      []Process     `json:"initProcs,omitempty"`
	VMID           string        `json:"vmId"`
	Volumes        []VolumePlan  `json:"volumes,omitempty"`
}

// specV1 is the API's PodSpec: the pod's name and containers' specs
// beside its settings.
type specV1 struct {
	Name string `json:"name,omitempty"`
	PodSpec
	Containers     []ContainerSpec `json:"containers"`
	InitContainers []ContainerSpec `json:"initContainers,omitempty"`
}

// containerV1 is the API's Container. Its name and image are its spec's,
// its command its process's arguments, Init which list it is in: version
// 2 keeps them once.
type containerV1 struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	ImageID string   `json:"imageId"`
	Command []string `json:"command"`
	Init    bool     `json:"init,omitempty"`
	// ContainerStatus holds state, exitCode, pid and restartCount.
	ContainerStatus
}

// upgrade is r as a record of version 2.
func (r podV1) upgrade() (Pod, error) {
	p := Pod{Version: 2, ID: r.ID, Name: r.Name, Created: r.Created, Dir: r.Dir, VMID: r.VMID, Spec: r.Spec.PodSpec,
		VolumePlan: r.Volumes, Status: r.PodStatus}
	var err error
	if p.InitContainers, err = containersV1(r.Spec.InitContainers, r.InitContainers, r.InitProcs); err != nil {
		return Pod{}, fmt.Errorf("pod %s: init containers: %w", r.Name, err)
	}
	if p.Containers, err = containersV1(r.Spec.Containers, r.Containers, r.Procs); err != nil {
		return Pod{}, fmt.Errorf("pod %s: containers: %w", r.Name, err)
	}
	return p, nil
}

// containersV1 joins version 1's lists of containers.
func containersV1(specs []ContainerSpec, states []containerV1, procs []Process) ([]Container, error) {
	if len(states) != len(specs) || len(procs) != len(specs) {
		return nil, fmt.Errorf("%d specs, %d states and %d processes", len(specs), len(states), len(procs))
	}
	var cs []Container
	for i, spec := range specs {
		cs = append(cs, Container{Spec: spec, ImageID: states[i].ImageID, Process: procs[i], Status: states[i].ContainerStatus})
	}
	return cs, nil
}
