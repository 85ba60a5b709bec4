package podspec

import (
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
)

// validName is the daemon's rule for pod, container and volume names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// validHostname is an RFC 1123 label.
var validHostname = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

const (
	minMemoryMB = 64
	// maxFileSize bounds a pod file's decoded content; maxFileRead the
	// file:// files read (base64 takes a third more, and line breaks).
	maxFileSize = types.MaxFilesSize
	maxFileRead = 2 * maxFileSize
)

// restartPolicy normalises never / onFailure[:N] / always (any case,
// "on-failure" too). k8s: the Kubernetes spelling is expected.
func restartPolicy(p *problems, fp, s string) string {
	if s == "" {
		return ""
	}
	name, retries, hasN := strings.Cut(s, ":")
	switch strings.ToLower(strings.ReplaceAll(name, "-", "")) {
	case "never":
		name = types.RestartPolicyNever
	case "always":
		name = types.RestartPolicyAlways
	case "onfailure":
		name = types.RestartPolicyOnFailure
	default:
		p.errorf(fp, "unknown restart policy %q: use never, onFailure[:N] or always", s)
		return ""
	}
	if hasN {
		n, err := strconv.Atoi(retries)
		if name != types.RestartPolicyOnFailure || err != nil || n < 0 {
			p.errorf(fp, "bad restart policy %q: only onFailure takes a retry count, onFailure:N with N >= 0", s)
			return ""
		}
		return fmt.Sprintf("%s:%d", name, n)
	}
	return name
}

// checkContainerPath checks a path inside a container where something is
// mounted or written.
func checkContainerPath(p *problems, fp, what, s string) string {
	if s == "" {
		p.errorf(fp, "%s is empty", what)
		return ""
	}
	if !path.IsAbs(s) {
		p.errorf(fp, "%s %q is not an absolute path", what, s)
		return ""
	}
	c := path.Clean(s)
	if c == "/" {
		p.errorf(fp, "%s %q: cannot replace the container's root", what, s)
		return ""
	}
	for _, sys := range []string{"/proc", "/sys", "/dev"} {
		if c == sys || strings.HasPrefix(c, sys+"/") {
			p.errorf(fp, "%s %q is under %s, which the guest manages", what, s, sys)
			return ""
		}
	}
	return c
}

func checkImage(p *problems, fp, image string) {
	if strings.TrimSpace(image) == "" {
		p.errorf(fp, "empty image")
	} else if strings.ContainsAny(image, " \t\r\n") {
		p.errorf(fp, "image %q contains white space", image)
	}
}

// portRange reads "80", 80 or "1300-1310".
type portRange struct {
	lo, hi int
	set    bool
}

func (r *portRange) decodeTree(d *decoder, fp string, v any) {
	if v == nil {
		return
	}
	s, ok := scalarText(v)
	if !ok {
		d.p.errorf(fp, "expected a port or a range such as \"1300-1310\", got %s", describe(v))
		return
	}
	s = strings.TrimSpace(s)
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	switch {
	case err1 != nil || err2 != nil:
		d.p.errorf(fp, "bad port %q: expected a number or a range such as \"1300-1310\"", s)
	case lo < 1 || lo > 65535 || hi < 1 || hi > 65535:
		d.p.errorf(fp, "port %q is out of range 1-65535", s)
	case hi < lo:
		d.p.errorf(fp, "port range %q ends before it starts", s)
	default:
		*r = portRange{lo: lo, hi: hi, set: true}
	}
}

// mapping combines container and host ports; fp names the mapping.
func portMapping(p *problems, fp string, cport, hport portRange, proto string, hostRequired bool) (types.PortMapping, bool) {
	if !cport.set {
		p.errorf(fp, "containerPort is required")
		return types.PortMapping{}, false
	}
	pr := strings.ToLower(proto)
	if pr == "" {
		pr = "tcp"
	}
	if pr != "tcp" && pr != "udp" {
		p.errorf(fp, "protocol %q is not supported: use tcp or udp", proto)
		return types.PortMapping{}, false
	}
	if !hport.set {
		if hostRequired {
			p.errorf(fp, "hostPort is required")
			return types.PortMapping{}, false
		}
		if cport.hi != cport.lo {
			p.errorf(fp, "a container port range needs a host port range")
			return types.PortMapping{}, false
		}
		return types.PortMapping{ContainerPort: cport.lo, Protocol: pr}, true
	}
	cn, hn := cport.hi-cport.lo+1, hport.hi-hport.lo+1
	if cn != hn {
		p.errorf(fp, "container ports %d-%d (%d) and host ports %d-%d (%d) are ranges of unequal lengths",
			cport.lo, cport.hi, cn, hport.lo, hport.hi, hn)
		return types.PortMapping{}, false
	}
	m := types.PortMapping{ContainerPort: cport.lo, HostPort: hport.lo, Protocol: pr}
	if cn > 1 {
		m.Count = cn
	}
	return m, true
}

// checkHostPorts refuses a host port published twice.
func checkHostPorts(p *problems, fp string, ports []types.PortMapping) {
	for i, a := range ports {
		for _, b := range ports[:i] {
			if a.HostPort == 0 || b.HostPort == 0 || a.Protocol != b.Protocol {
				continue
			}
			aEnd, bEnd := a.HostPort+max(a.Count, 1)-1, b.HostPort+max(b.Count, 1)-1
			if a.HostPort <= bEnd && b.HostPort <= aEnd {
				p.errorf(index(fp, i), "host port %d/%s is already published", max(a.HostPort, b.HostPort), a.Protocol)
				break
			}
		}
	}
}

// fileContent reads a pod file's content: inline or from a file:// URI,
// then decoded per encoding ("raw", "" or "base64").
func fileContent(p *problems, fp, encoding, uri, content string) ([]byte, string, bool) {
	enc := strings.ToLower(encoding)
	if enc != "" && enc != "raw" && enc != "base64" {
		p.errorf(field(fp, "encoding"), "unknown encoding %q: use raw or base64", encoding)
		return nil, "", false
	}
	if uri != "" && content != "" {
		p.errorf(fp, "give either uri or content, not both")
		return nil, "", false
	}
	raw, source, what := []byte(content), "inline", "content"
	if uri != "" {
		source, what = uri, "uri"
		u, err := url.Parse(uri)
		if err != nil {
			p.errorf(field(fp, "uri"), "bad URI %q: %v", uri, err)
			return nil, "", false
		}
		switch strings.ToLower(u.Scheme) {
		case "http", "https":
			p.errorf(field(fp, "uri"), "%s: %s URIs are not fetched: pod files are read offline, when parsed; download it and give file:///path or content", uri, u.Scheme)
			return nil, "", false
		case "file":
			if (u.Host != "" && u.Host != "localhost") || !path.IsAbs(u.Path) {
				p.errorf(field(fp, "uri"), "%s: a file URI must name an absolute path, file:///path", uri)
				return nil, "", false
			}
			raw, err = readRegular(u.Path)
			if err != nil {
				p.errorf(field(fp, "uri"), "%s: %v", uri, err)
				return nil, "", false
			}
		default:
			p.errorf(field(fp, "uri"), "%s: unsupported URI scheme %q: use file:///path or content", uri, u.Scheme)
			return nil, "", false
		}
	}
	if enc == "base64" {
		s := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, string(raw))
		dec, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			p.errorf(field(fp, what), "bad base64 payload: %v", err)
			return nil, "", false
		}
		raw = dec
	}
	if len(raw) > maxFileSize {
		p.errorf(field(fp, what), "%d bytes: larger than %d KiB (what a pod's files may hold in all)", len(raw), maxFileSize>>10)
		return nil, "", false
	}
	return raw, source, true
}

func readRegular(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("cannot read %s: no such file", name)
		}
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileRead+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	if len(b) > maxFileRead {
		return nil, fmt.Errorf("%s is larger than %d KiB (a pod's files may hold %d KiB in all)", name, maxFileRead>>10, maxFileSize>>10)
	}
	return b, nil
}

// filePerm normalises an octal permission such as "0644" or "644".
func filePerm(p *problems, fp, s string) string {
	if s == "" {
		return ""
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O"), 8, 32)
	if err != nil || n > 0o7777 {
		p.errorf(fp, "bad permission %q: expected octal such as \"0644\"", s)
		return ""
	}
	return fmt.Sprintf("%04o", n)
}

var knownUlimits = map[string]bool{"as": true, "core": true, "cpu": true, "data": true, "fsize": true,
	"locks": true, "memlock": true, "msgqueue": true, "nice": true, "nofile": true, "nproc": true,
	"rss": true, "rtprio": true, "rttime": true, "sigpending": true, "stack": true}

func checkUlimit(p *problems, fp string, u types.Ulimit) (types.Ulimit, bool) {
	u.Name = strings.ToLower(strings.TrimPrefix(strings.ToLower(u.Name), "rlimit_"))
	switch {
	case !knownUlimits[u.Name]:
		p.errorf(fp, "unknown ulimit %q", u.Name)
	case u.Soft < -1 || u.Hard < -1:
		p.errorf(fp, "ulimit %s: negative limit (-1 is unlimited)", u.Name)
	case u.Hard != -1 && (u.Soft == -1 || u.Soft > u.Hard):
		p.errorf(fp, "ulimit %s: soft limit %d is above the hard limit %d", u.Name, u.Soft, u.Hard)
	default:
		return u, true
	}
	return u, false
}

var signalRE = regexp.MustCompile(`^(SIG)?[A-Z][A-Z0-9+-]*$|^[0-9]{1,2}$`)

func stopSignal(p *problems, fp, s string) string {
	if s == "" {
		return ""
	}
	u := strings.ToUpper(s)
	if !signalRE.MatchString(u) {
		p.errorf(fp, "bad signal %q", s)
		return ""
	}
	if u[0] >= 'A' && u[0] <= 'Z' && !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	return u
}

// quantity is a Kubernetes resource quantity: 512Mi, 1Gi, 0.5, 500m, 1e9.
type quantity struct {
	v   *big.Rat
	raw string
}

func (q *quantity) decodeTree(d *decoder, fp string, v any) {
	if v == nil {
		return
	}
	s, ok := scalarText(v)
	if !ok {
		d.p.errorf(fp, "expected a quantity such as \"512Mi\" or \"0.5\", got %s", describe(v))
		return
	}
	r, err := parseQuantity(s)
	if err != nil {
		d.p.errorf(fp, "%v", err)
		return
	}
	*q = quantity{v: r, raw: s}
}

var quantityRE = regexp.MustCompile(`^([+-]?[0-9]*\.?[0-9]*)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?)$`)

func parseQuantity(s string) (*big.Rat, error) {
	s = strings.TrimSpace(s)
	m := quantityRE.FindStringSubmatch(s)
	if m == nil || m[1] == "" || m[1] == "." || m[1] == "+" || m[1] == "-" {
		return nil, fmt.Errorf("bad quantity %q: expected e.g. \"512Mi\", \"1Gi\", \"0.5\" or \"500m\"", s)
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return nil, fmt.Errorf("bad quantity %q", s)
	}
	if m[2] != "" {
		e, err := strconv.Atoi(m[2][1:])
		if err != nil || e > 30 || e < -30 {
			return nil, fmt.Errorf("bad quantity %q: exponent out of range", s)
		}
		return r.Mul(r, pow(10, e)), nil
	}
	mult := map[string]*big.Rat{"": big.NewRat(1, 1), "m": big.NewRat(1, 1000),
		"k": pow(10, 3), "M": pow(10, 6), "G": pow(10, 9), "T": pow(10, 12), "P": pow(10, 15), "E": pow(10, 18),
		"Ki": pow(2, 10), "Mi": pow(2, 20), "Gi": pow(2, 30), "Ti": pow(2, 40), "Pi": pow(2, 50), "Ei": pow(2, 60)}[m[3]]
	return r.Mul(r, mult), nil
}

func pow(base, e int) *big.Rat {
	neg := e < 0
	if neg {
		e = -e
	}
	n := new(big.Int).Exp(big.NewInt(int64(base)), big.NewInt(int64(e)), nil)
	if neg {
		return new(big.Rat).SetFrac(big.NewInt(1), n)
	}
	return new(big.Rat).SetInt(n)
}

// ceilDiv rounds r/unit up to an int, capped at limit.
func ceilDiv(r *big.Rat, unit int64, limit int64) (int, bool) {
	q := new(big.Rat).Quo(r, big.NewRat(unit, 1))
	n := new(big.Int).Quo(q.Num(), q.Denom())
	if new(big.Rat).SetInt(n).Cmp(q) < 0 {
		n.Add(n, big.NewInt(1))
	}
	if !n.IsInt64() || n.Int64() > limit {
		return 0, false
	}
	return int(n.Int64()), true
}

// declared reports whether name is among the pod's declared things of
// kind ("volume", "file"), recording the problem at fp when it is not.
func declared(p *problems, fp, kind, name string, set map[string]bool) bool {
	switch {
	case set[name]:
		return true
	case name == "":
		p.errorf(fp, "no %s named", kind)
	default:
		p.errorf(fp, "%s %q is not declared", kind, name)
	}
	return false
}

// addVolumeMount appends m to mounts when its volume is declared and its
// path (the field pathField at fp) is a valid container path.
func addVolumeMount(p *problems, fp, pathField string, vols map[string]bool, mounts *[]types.VolumeMount, m types.VolumeMount) {
	if !declared(p, fp, "volume", m.Name, vols) {
		return
	}
	if m.MountPath = checkContainerPath(p, field(fp, pathField), "mount path", m.MountPath); m.MountPath != "" {
		*mounts = append(*mounts, m)
	}
}
