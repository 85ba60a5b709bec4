// Package podspec reads pod files into the API's types.PodSpec: the
// original Hyper pod file (JSON or YAML, keys case-insensitive) and
// Kubernetes v1 Pod manifests (YAML or JSON). It checks them thoroughly
// and reports every problem with the path of the field at fault, so that
// a pod never runs differently from what its file says: what Hyper cannot
// honour is an error, what it can drop harmlessly is a warning. Host
// paths and images are checked later, by the daemon. docs/pod-files.md
// describes both formats.
package podspec

import (
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
)

// Result is a parsed pod file.
type Result struct {
	Spec types.PodSpec
	// Format is "hyper" or "kubernetes".
	Format string
	// Warnings name fields that were ignored.
	Warnings []string
}

// Error lists every problem found in a pod file, each naming its field.
type Error struct {
	File     string   // the name given to Parse
	Problems []string // "containers[1].volumes[0]: volume \"data\" is not declared"
}

func (e *Error) Error() string {
	prefix := ""
	if e.File != "" {
		prefix = e.File + ": "
	}
	if len(e.Problems) == 1 {
		return prefix + e.Problems[0]
	}
	return fmt.Sprintf("%s%d problems:\n  %s", prefix, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Parse reads a pod file. name (a file name, may be empty) prefixes the
// error messages. A Kubernetes manifest is recognised by its apiVersion or
// kind; anything else is a Hyper pod file. The error, when not nil, is an
// *Error, and the Result then holds what could be read (with its warnings).
func Parse(data []byte, name string) (Result, error) {
	tree, _, err := readTree(data)
	if err != nil {
		return Result{}, &Error{File: name, Problems: []string{err.Error()}}
	}
	top, ok := tree.(*object)
	if !ok {
		return Result{}, &Error{File: name, Problems: []string{"a pod file must be an object, not " + describe(tree)}}
	}
	p := &problems{}
	res := Result{Format: "hyper"}
	_, hasAPI := top.get("apiVersion", true)
	_, hasKind := top.get("kind", true)
	if hasAPI || hasKind {
		res.Format = "kubernetes"
		res.Spec = convertKube(top, p)
	} else {
		res.Spec = convertHyper(top, p)
	}
	res.Warnings = p.warns
	if len(p.errs) > 0 {
		return res, &Error{File: name, Problems: p.errs}
	}
	return res, nil
}

func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

func checkPodNames(p *problems, namePath, hostPath, name, hostname string) {
	if name != "" && !validName.MatchString(name) {
		p.errorf(namePath, "invalid pod name %q: use letters, digits, '_', '.', '-' (at most 63)", name)
	}
	if hostname != "" && !validHostname.MatchString(hostname) {
		p.errorf(hostPath, "invalid hostname %q: use letters, digits and '-' (at most 63), not starting or ending with '-'", hostname)
	}
}

func checkContainerName(p *problems, fp, name, where string, names map[string]string) {
	if name == "" {
		return // the daemon names it
	}
	if !validName.MatchString(name) {
		p.errorf(fp, "invalid container name %q: use letters, digits, '_', '.', '-' (at most 63)", name)
		return
	}
	if prev, dup := names[name]; dup {
		p.errorf(fp, "duplicate container name %q (also %s)", name, prev)
		return
	}
	names[name] = where
}

// checkDeclName checks the name of a declared volume or file.
func checkDeclName(p *problems, fp, what, name string, seen map[string]bool) bool {
	switch {
	case name == "":
		p.errorf(fp, "a %s needs a name", what)
	case seen[name]:
		p.errorf(fp, "duplicate %s name %q", what, name)
	default:
		seen[name] = true
		return true
	}
	return false
}

func checkWorkdir(p *problems, fp, wd string) {
	if wd != "" && !path.IsAbs(wd) {
		p.errorf(fp, "working directory %q is not an absolute path", wd)
	}
}

func envVar(p *problems, fp, name, value string) (string, bool) {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		p.errorf(fp, "bad environment variable name %q", name)
		return "", false
	}
	return name + "=" + value, true
}

func checkMountsUnique(p *problems, fp string, mounts []types.VolumeMount) {
	for i, m := range mounts {
		for _, o := range mounts[:i] {
			if o.MountPath == m.MountPath {
				p.errorf(index(fp, i), "%s is mounted twice", m.MountPath)
				break
			}
		}
	}
}

func checkSysctls(p *problems, fp string, s map[string]string) {
	for k := range s {
		if k == "" || strings.ContainsAny(k, " \t\r\n=") {
			p.errorf(field(fp, k), "bad sysctl name")
		}
	}
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func checkDNS(p *problems, fp string, d *types.DNSConfig) {
	for i, s := range d.Nameservers {
		if !isIP(s) {
			p.errorf(index(fp, i), "nameserver %q is not an IP address", s)
		}
	}
}
