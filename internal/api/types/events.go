package types

// Event types (Event.Type), as docker names them: hyperctl's pod is
// docker's container.
const (
	EventContainer = "container"
	EventImage     = "image"
	EventVolume    = "volume"
	EventDaemon    = "daemon"
)

// Event actions (Event.Action).
const (
	// container
	ActionCreate     = "create"
	ActionStart      = "start"
	ActionDie        = "die" // attribute exitCode
	ActionOOM        = "oom"
	ActionKill       = "kill" // attribute signal
	ActionStop       = "stop"
	ActionPause      = "pause"
	ActionUpdate     = "update"
	ActionUnpause    = "unpause"
	ActionDestroy    = "destroy"
	ActionRename     = "rename" // attribute oldName
	ActionRestart    = "restart"
	ActionExecCreate = "exec_create"
	ActionExecStart  = "exec_start"
	ActionExecDie    = "exec_die" // attribute exitCode
	ActionHealth     = "health_status"
	// image
	ActionPull   = "pull"
	ActionLoad   = "load"
	ActionTag    = "tag"
	ActionUntag  = "untag"
	ActionDelete = "delete"
	ActionPush   = "push"
	// volume: create, destroy (as container's)
	// daemon
	ActionEventsLost = "events-lost" // attribute count: events a slow reader missed
)

// Event is one entry of GET /v1/events, shaped like docker's events
// --format json.
type Event struct {
	Type   string     `json:"Type"`
	Action string     `json:"Action"`
	Actor  EventActor `json:"Actor"`
	Scope  string     `json:"scope"` // always "local"
	// Time and TimeNano are when it happened: Unix seconds, nanoseconds.
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
}

// EventActor is what an event is about: a pod's full ID, an image's ID
// or reference, a volume's name; Attributes add its name, image, the
// container in the pod, an exit code...
type EventActor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}
