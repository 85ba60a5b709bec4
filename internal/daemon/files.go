package daemon

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/sysctl"
)

// checkFiles checks the pod's files and every container's file mounts:
// each names a declared file, at a clean absolute path (once per
// container), with an octal perm, and the content stays within
// types.MaxFilesSize per pod and per container.
func checkFiles(spec types.PodSpec) error {
	sizes, total := map[string]int{}, 0
	for i, f := range spec.Files {
		if f.Name == "" {
			return errdefs.InvalidArgument("files[%d]: a file needs a name", i)
		}
		if _, dup := sizes[f.Name]; dup {
			return errdefs.InvalidArgument("files[%d]: file %q is declared twice", i, f.Name)
		}
		sizes[f.Name] = len(f.Content)
		total += len(f.Content)
	}
	if total > types.MaxFilesSize {
		return errdefs.InvalidArgument("files: %d bytes in all, more than the %d KiB a pod's files may hold", total, types.MaxFilesSize>>10)
	}
	return eachContainer(spec, func(where string, c types.ContainerSpec) error {
		paths, total := map[string]bool{}, 0
		for j, m := range c.Files {
			fp := fmt.Sprintf("%s.files[%d]", where, j)
			size, ok := sizes[m.Name]
			if !ok {
				return errdefs.InvalidArgument("%s: file %q is not declared in the pod's files", fp, m.Name)
			}
			if !path.IsAbs(m.Path) || path.Clean(m.Path) != m.Path || m.Path == "/" {
				return errdefs.InvalidArgument("%s: path %q: want a clean absolute path to a file", fp, m.Path)
			}
			if paths[m.Path] {
				return errdefs.InvalidArgument("%s: path %s is given twice", fp, m.Path)
			}
			paths[m.Path] = true
			if _, err := fileMode(m.Perm); err != nil {
				return errdefs.InvalidArgument("%s: %w", fp, err)
			}
			if strings.Contains(m.User, ":") || strings.Contains(m.Group, ":") {
				return errdefs.InvalidArgument("%s: user and group are names or ids, without ':'", fp)
			}
			total += size
		}
		if total > types.MaxFilesSize {
			return errdefs.InvalidArgument("%s.files: %d bytes in all, more than the %d KiB a container's files may hold", where, total, types.MaxFilesSize>>10)
		}
		return nil
	})
}

// fileMode parses an octal permission; "" is 0644.
func fileMode(perm string) (uint32, error) {
	if perm == "" {
		return 0o644, nil
	}
	n, err := strconv.ParseUint(perm, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("bad perm %q: want octal, at most 07777", perm)
	}
	return uint32(n), nil
}

// containerFiles are the files the guest writes into container c's root
// (checked by checkFiles).
func containerFiles(files []types.File, c types.ContainerSpec) []protocol.FileSpec {
	var out []protocol.FileSpec
	for _, m := range c.Files {
		for _, f := range files {
			if f.Name == m.Name {
				mode, _ := fileMode(m.Perm)
				out = append(out, protocol.FileSpec{Path: m.Path, Content: f.Content, Mode: mode, User: m.User, Group: m.Group})
				break
			}
		}
	}
	return out
}

// podSysctls merges the containers' sysctls (init containers' too): every
// container shares the pod's network and IPC namespaces, so they apply to
// the whole pod, and two containers giving one parameter different values
// is an error.
func podSysctls(spec types.PodSpec) (map[string]string, error) {
	merged := map[string]string{}
	setBy := map[string]string{} // canonical key -> where
	err := eachContainer(spec, func(where string, c types.ContainerSpec) error {
		for k, v := range c.Sysctls {
			if err := sysctl.Check(k, v); err != nil {
				return errdefs.InvalidArgument("%s.sysctls: %w", where, err)
			}
			key := sysctl.Key(k)
			if prev, ok := setBy[key]; ok && merged[key] != v {
				return errdefs.InvalidArgument("%s.sysctls: %s=%q, but %s sets %q: sysctls apply to the whole pod (its containers share its network and IPC namespaces)", where, k, v, prev, merged[key])
			}
			merged[key], setBy[key] = v, where
		}
		return nil
	})
	if err != nil || len(merged) == 0 {
		return nil, err
	}
	return merged, nil
}

// eachContainer calls fn for every init container, then every container,
// with its place in the spec ("initContainers[0]", "containers[1]").
func eachContainer(spec types.PodSpec, fn func(where string, c types.ContainerSpec) error) error {
	for i, c := range spec.InitContainers {
		if err := fn(fmt.Sprintf("initContainers[%d]", i), c); err != nil {
			return err
		}
	}
	for i, c := range spec.Containers {
		if err := fn(fmt.Sprintf("containers[%d]", i), c); err != nil {
			return err
		}
	}
	return nil
}
