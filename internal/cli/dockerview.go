package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// psRow is one pod as `ps --format` sees it: docker's field names (and,
// for --format json, docker's keys) over the API's Pod, whose other fields
// ({{.Spec}}, {{.VM}}, ...) templates still reach.
type psRow struct {
	types.Pod `json:"-"`

	ID         string `json:"ID"`
	Names      string `json:"Names"`
	Image      string `json:"Image"`
	Command    string `json:"Command"`
	CreatedAt  string `json:"CreatedAt"`
	RunningFor string `json:"RunningFor"`
	Status     string `json:"Status"`
	State      string `json:"State"`
	Ports      string `json:"Ports"`
	Labels     string `json:"Labels"`
	Networks   string `json:"Networks"`
	// Size is docker's writable layer size: N/A (ps -s).
	Size string `json:"Size"`
}

// dockerTime is how docker ps prints CreatedAt.
const dockerTime = "2006-01-02 15:04:05 -0700 MST"

func newPsRow(p types.Pod, noTrunc bool, now time.Time) psRow {
	cmd := podCommand(p)
	if !noTrunc {
		cmd = ellipsis(cmd, 20)
	}
	created := ""
	if !p.Created.IsZero() {
		created = p.Created.Local().Format(dockerTime)
	}
	return psRow{
		Pod:        p,
		ID:         displayID(p.ID, noTrunc),
		Names:      p.Name,
		Image:      podImage(p),
		Command:    strconv.Quote(cmd),
		CreatedAt:  created,
		RunningFor: ago(p.Created, now),
		Status:     podStatus(p, now),
		State:      psState(p),
		Ports:      dockerPorts(p.Ports),
		Labels:     joinLabels(podLabels(p)),
		Networks:   p.Network,
		Size:       "N/A",
	}
}

// Label is the value of one of the pod's labels ({{.Label "tier"}}).
func (r psRow) Label(key string) string { return podLabels(r.Pod)[key] }

// psHeader renders a tabular ps template's header row: each docker field
// is its column's title, as docker names it.
type psHeader struct {
	ID, Name, Names, Image, Command, CreatedAt, RunningFor string
	Status, State, Ports, Labels, Networks, Size           string
}

// Label is the title of a {{.Label "KEY"}} column.
func (psHeader) Label(string) string { return "LABEL" }

var psHeaders = psHeader{
	ID: "POD ID", Name: "NAME", Names: "NAMES", Image: "IMAGE", Command: "COMMAND",
	CreatedAt: "CREATED AT", RunningFor: "CREATED", Status: "STATUS",
	State: "STATE", Ports: "PORTS", Labels: "LABELS", Networks: "NETWORKS", Size: "SIZE",
}

// psSizeTable is ps -s's table: the default columns and SIZE.
const psSizeTable = "table {{.ID}}\t{{.Names}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Size}}"

// podLabels are the pod's labels, else its first container's.
func podLabels(p types.Pod) map[string]string {
	if len(p.Spec.Labels) > 0 {
		return p.Spec.Labels
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Labels
	}
	return nil
}

// joinLabels is "a=b,c=d", sorted by key.
func joinLabels(l map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, k+"="+l[k])
	}
	return strings.Join(kv, ",")
}

// dockerPorts is docker ps's PORTS: "0.0.0.0:8080->80/tcp, ...".
func dockerPorts(bs []types.PortBinding) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%s:%d->%d/%s", b.HostIP, b.HostPort, b.ContainerPort, b.Protocol))
	}
	return strings.Join(s, ", ")
}

// podInspect is a pod as `inspect --format` sees it: the API's Pod with
// docker's State, Config and NetworkSettings next to Hyper's fields.
// State shadows Pod.State; it prints as Hyper's state string, so
// '{{.State}}' still shows "running". Name stays Hyper's, without docker's
// leading "/".
type podInspect struct {
	types.Pod

	Id              string // docker's spelling of ID
	Image           string // the first container's image ID
	Path            string
	Args            []string
	RestartCount    int
	State           dockerState
	Config          dockerConfig
	NetworkSettings dockerNetwork
}

// dockerState is docker inspect's State.
type dockerState struct {
	Status     string // created, running or exited
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string // RFC 3339, "0001-01-01T00:00:00Z" if never
	FinishedAt string
	Health     *types.Health // nil without a health check
	hyper      string
}

// String is Hyper's state ("failed" included).
func (s dockerState) String() string { return s.hyper }

// dockerConfig is docker inspect's Config (of the first container).
type dockerConfig struct {
	Hostname   string
	Image      string
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	OpenStdin  bool
	Labels     map[string]string
}

// dockerNetwork is docker inspect's NetworkSettings.
type dockerNetwork struct {
	IPAddress string
	Ports     map[string][]dockerPortBinding // "80/tcp"
}

type dockerPortBinding struct {
	HostIp   string
	HostPort string
}

func newPodInspect(p types.Pod) podInspect {
	v := podInspect{Pod: p, Id: p.ID}
	if len(p.Containers) > 0 {
		v.Image = p.Containers[0].ImageID
	}
	args := podArgs(p)
	if len(args) > 0 {
		v.Path, v.Args = args[0], args[1:]
	}
	oom := false
	for _, c := range p.Containers {
		v.RestartCount += c.RestartCount
		oom = oom || c.OOMKilled && !c.Init
	}
	v.State = dockerState{
		Status:     dockerStatus(p.State),
		Running:    p.State == types.StateRunning,
		Paused:     p.Paused,
		ExitCode:   p.ExitCode,
		OOMKilled:  oom,
		StartedAt:  p.StartedAt.UTC().Format(time.RFC3339Nano),
		FinishedAt: p.FinishedAt.UTC().Format(time.RFC3339Nano),
		Health:     podHealth(p),
		hyper:      p.State,
	}
	if p.Paused {
		v.State.Status = "paused"
	}
	if len(p.Containers) > 0 && v.State.Running {
		v.State.Pid = p.Containers[0].Pid
	}
	if p.State == types.StateFailed {
		v.State.Error = p.Reason
	}
	v.Config.Hostname = p.Spec.Hostname
	v.Config.Labels = podLabels(p)
	if len(p.Spec.Containers) > 0 {
		c := p.Spec.Containers[0]
		v.Config.Image = c.Image
		v.Config.Entrypoint, v.Config.Cmd, v.Config.Env = c.Entrypoint, c.Cmd, c.Env
		v.Config.WorkingDir, v.Config.User, v.Config.Tty, v.Config.OpenStdin = c.WorkingDir, c.User, c.Tty, c.OpenStdin
	}
	v.NetworkSettings.IPAddress = p.IPAddress
	if len(p.Ports) > 0 {
		v.NetworkSettings.Ports = map[string][]dockerPortBinding{}
		for _, b := range p.Ports {
			k := fmt.Sprintf("%d/%s", b.ContainerPort, b.Protocol)
			v.NetworkSettings.Ports[k] = append(v.NetworkSettings.Ports[k], dockerPortBinding{b.HostIP, strconv.Itoa(b.HostPort)})
		}
	}
	return v
}

// psState is ps's .State: Hyper's, "paused" for a paused pod as docker.
func psState(p types.Pod) string {
	if p.Paused {
		return "paused"
	}
	return p.State
}

// dockerStatus maps Hyper's state onto docker's: a failed pod is exited.
func dockerStatus(state string) string {
	if state == types.StateFailed {
		return types.StateExited
	}
	return state
}
