package cli

import (
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func newUpdateCommand(h *cli) *cobra.Command {
	var cpus, memory, pids string
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] POD[/CONTAINER] [POD[/CONTAINER]...]",
		Short: "Change the limits of pods' containers inside their VMs (the VMs keep their size)",
		Long: `Change the cgroup limits of a pod's containers (all of them, or CONTAINER)
inside the pod's VM. A VM cannot grow: a limit above its vCPUs or memory is
refused. 0, -1 or "max" removes a limit. A stopped pod keeps the limits for
its next start; a running one gets them at once.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := parseUpdate(cmd.Flags().Changed, cpus, memory, pids)
			if err != nil {
				return err
			}
			c, err := h.client()
			if err != nil {
				return err
			}
			return h.forEach(args, func(arg string) error {
				pod, ctr, _ := strings.Cut(arg, "/")
				r := req
				r.Container = ctr
				return c.UpdatePod(cmd.Context(), pod, r)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cpus, "cpus", "", "CPUs the containers may use (cgroup cpu.max), e.g. 0.5")
	f.StringVarP(&memory, "memory", "m", "", "memory limit (cgroup memory.max), e.g. 64m")
	f.StringVar(&pids, "pids-limit", "", "process limit (cgroup pids.max)")
	return cmd
}

// parseUpdate is the request of update's flags; changed tells which were
// given.
func parseUpdate(changed func(string) bool, cpus, memory, pids string) (types.UpdateRequest, error) {
	var req types.UpdateRequest
	var err error
	if req.CPUs, err = limitFlag(changed, "cpus", cpus, func(s string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errdefs.InvalidArgument("--cpus %q: want a number of CPUs such as 0.5, or 0 for no limit", s)
		}
		return f, nil
	}); err != nil {
		return req, err
	}
	if req.MemoryBytes, err = limitFlag(changed, "memory", memory, func(s string) (int64, error) {
		b, err := parseBytes(s)
		if err != nil {
			return 0, errdefs.InvalidArgument("--memory: %w", err)
		}
		return b, nil
	}); err != nil {
		return req, err
	}
	if req.PidsLimit, err = limitFlag(changed, "pids-limit", pids, func(s string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 {
			return 0, errdefs.InvalidArgument("--pids-limit %q: want a count, or 0 or -1 for no limit", s)
		}
		return n, nil
	}); err != nil {
		return req, err
	}
	if req.CPUs == nil && req.MemoryBytes == nil && req.PidsLimit == nil {
		return req, errdefs.InvalidArgument("give at least one of --cpus, --memory and --pids-limit")
	}
	return req, nil
}

// limitFlag is flag name's value s parsed, a pointer to 0 when s removes
// the limit, nil when the flag was not given.
func limitFlag[T any](changed func(string) bool, name, s string, parse func(string) (T, error)) (*T, error) {
	if !changed(name) {
		return nil, nil
	}
	var v T
	if !unlimited(s) {
		p, err := parse(s)
		if err != nil {
			return nil, err
		}
		v = p
	}
	return &v, nil
}

// unlimited reports whether a limit flag's value removes the limit.
func unlimited(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0", "-1", "max":
		return true
	}
	return false
}
