package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hyperhq/hyper/internal/protocol"
)

// SetLimits writes the limits r sets (r must pass Check) into the group's
// cpu.max, memory.max and pids.max; 0 is written as "max".
func (g Group) SetLimits(r protocol.Resources) error {
	if q := r.CPUQuotaUsec; q != nil {
		if err := g.write("cpu.max", limit(*q)+" "+strconv.FormatUint(r.Period(), 10)); err != nil {
			return err
		}
	}
	if m := r.MemoryMaxBytes; m != nil {
		if err := g.write("memory.max", limit(*m)); err != nil {
			return err
		}
	}
	if p := r.PidsMax; p != nil {
		if err := g.write("pids.max", limit(*p)); err != nil {
			return err
		}
	}
	return nil
}

func limit(v uint64) string {
	if v == 0 {
		return "max"
	}
	return strconv.FormatUint(v, 10)
}

func (g Group) write(name, v string) error {
	if err := os.WriteFile(filepath.Join(g.Path, name), []byte(v), 0); err != nil {
		return fmt.Errorf("setting %s of cgroup %s to %q: %w", name, g.Path, v, err)
	}
	return nil
}
