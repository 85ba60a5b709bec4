package hypervisor

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Options are what the configuration says to any driver. A driver reads
// what applies to it and refuses values it does not know.
type Options struct {
	// Binary is the hypervisor's program (a path, or a name looked up in
	// PATH); empty means the driver's default.
	Binary string
	// Transport is how the guest channels cross the VM boundary: empty
	// for the driver's default, else one the driver knows (qemu: "serial"
	// or "vsock").
	Transport string
	// Jail confines each VM's hypervisor process; its zero value is no
	// jail.
	Jail Jail
}

// Jail is how a driver confines its hypervisor processes: as User (an
// unprivileged user), seeing only its VM's files, in a cgroup of its own
// (docs/adr/0012-qemu-jail.md).
type Jail struct {
	// User runs the hypervisor; empty: no jail, the hypervisor runs as
	// the daemon's user.
	User string
	// MemoryOverheadMB is added to a VM's memory for its memory limit.
	MemoryOverheadMB int
	// Pids limits the processes and threads of one hypervisor.
	Pids int
}

// Factory makes a driver from the options.
type Factory func(Options) (Driver, error)

var (
	regMu     sync.Mutex
	factories = map[string]Factory{}
)

// Register makes a driver available by name; a driver package calls it
// from its init function. Registering a name twice panics.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := factories[name]; dup || name == "" || f == nil {
		panic(fmt.Sprintf("hypervisor: Register(%q) twice, or without a name or factory", name))
	}
	factories[name] = f
}

// Drivers lists the registered drivers' names, sorted.
func Drivers() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New makes the driver registered as name.
func New(name string, opts Options) (Driver, error) {
	regMu.Lock()
	f, ok := factories[name]
	regMu.Unlock()
	if !ok {
		known := strings.Join(Drivers(), ", ")
		if known == "" {
			known = "none: the program links no driver"
		}
		return nil, errdefs.InvalidArgument("unknown hypervisor %q (known: %s)", name, known)
	}
	d, err := f(opts)
	if err != nil {
		return nil, fmt.Errorf("hypervisor %s: %w", name, err)
	}
	return d, nil
}
