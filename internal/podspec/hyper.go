package podspec

import (
	"path"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
)

// The Hyper pod file (docs/pod-files.md). Keys match case-insensitively.

type hyperPod struct {
	ID                    string            `json:"id"`
	Name                  string            `json:"name"`
	Hostname              string            `json:"hostname"`
	Type                  ignored           `json:"type" why:"every pod is a QEMU VM"`
	RestartPolicy         string            `json:"restartPolicy"`
	Tty                   *bool             `json:"tty"`
	Labels                map[string]string `json:"labels"`
	Resource              *hyperResource    `json:"resource"`
	Log                   ignored           `json:"log" why:"hyperd keeps container output in its own log store (hyperctl logs)"`
	DNS                   []string          `json:"dns"`
	DNSOptions            []string          `json:"dnsOptions"`
	DNSSearch             []string          `json:"dnsSearch"`
	Containers            []hyperContainer  `json:"containers"`
	InitContainers        []hyperContainer  `json:"initContainers"`
	Files                 []hyperFile       `json:"files"`
	Volumes               []hyperVolume     `json:"volumes"`
	Interfaces            refused           `json:"interfaces" why:"Hyper sets up the pod's network itself; remove interfaces"`
	Services              refused           `json:"services" why:"in-pod service load balancing is not implemented"`
	PortMappings          []hyperPort       `json:"portmappings"`
	PortmappingWhiteLists refused           `json:"portmappingWhiteLists" why:"Hyper cannot restrict which networks reach published ports, so the ports would be open wider than asked; remove it to publish to all"`
}

type hyperResource struct {
	VCPU   int `json:"vcpu"`
	Memory int `json:"memory"`
}

type hyperContainer struct {
	Name          string            `json:"name"`
	Image         string            `json:"image"`
	Workdir       string            `json:"workdir"`
	Command       []string          `json:"command"`
	Entrypoint    []string          `json:"entrypoint"`
	Envs          []hyperEnv        `json:"envs"`
	RestartPolicy string            `json:"restartPolicy"`
	Tty           *bool             `json:"tty"`
	Stdin         bool              `json:"stdin"`
	Sysctl        map[string]string `json:"sysctl"`
	Labels        map[string]string `json:"labels"`
	User          hyperUser         `json:"user"`
	Ports         []hyperPort       `json:"ports"`
	Volumes       []hyperMount      `json:"volumes"`
	Files         []hyperFileRef    `json:"files"`
	StopSignal    string            `json:"stopSignal"`
	Ulimits       []hyperUlimit     `json:"ulimits"`
	ReadOnly      bool              `json:"readOnly"`
	// What confines the container, as docker run's flags.
	CapAdd      []string `json:"capAdd"`
	CapDrop     []string `json:"capDrop"`
	Privileged  bool     `json:"privileged"`
	SecurityOpt []string `json:"securityOpt"`
}

type hyperEnv struct {
	Env   string `json:"env"`
	Value string `json:"value"`
}

// hyperUser is {name, group, additionalGroups} or a plain "user[:group]".
type hyperUser struct {
	Name             string   `json:"name"`
	Group            string   `json:"group"`
	AdditionalGroups []string `json:"additionalGroups"`
}

func (u *hyperUser) decodeTree(d *decoder, fp string, v any) {
	if s, ok := v.(string); ok {
		u.Name = s
		return
	}
	type plain hyperUser
	d.decodeStruct(fp, v, reflectValue((*plain)(u)))
}

type hyperPort struct {
	ContainerPort portRange `json:"containerPort"`
	HostPort      portRange `json:"hostPort"`
	Protocol      string    `json:"protocol"`
}

type hyperMount struct {
	Volume   string `json:"volume"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly"`
}

type hyperFileRef struct {
	Path     string `json:"path"`
	Filename string `json:"filename"`
	Perm     string `json:"perm"`
	User     string `json:"user"`
	Group    string `json:"group"`
}

type hyperUlimit struct {
	Name string `json:"name"`
	Hard int64  `json:"hard"`
	Soft int64  `json:"soft"`
}

type hyperFile struct {
	Name     string `json:"name"`
	Encoding string `json:"encoding"`
	URI      string `json:"uri"`
	Content  string `json:"content"`
}

type hyperVolume struct {
	Name     string `json:"name"`
	Source   string `json:"source"`
	Format   string `json:"format"`
	Fstype   string `json:"fstype"`
	ReadOnly bool   `json:"readOnly"`
}

func convertHyper(tree any, p *problems) types.PodSpec {
	var hp hyperPod
	d := &decoder{fold: true, p: p}
	d.decode("", tree, reflectValue(&hp))

	spec := types.PodSpec{Name: hp.ID, Hostname: hp.Hostname, Labels: hp.Labels}
	if hp.Name != "" {
		if hp.ID != "" && hp.ID != hp.Name {
			p.errorf("name", "the pod is named twice: id %q and name %q", hp.ID, hp.Name)
		}
		spec.Name = hp.Name
	}
	checkPodNames(p, "id", "hostname", spec.Name, spec.Hostname)
	spec.RestartPolicy = restartPolicy(p, "restartPolicy", hp.RestartPolicy)
	if hp.Resource != nil {
		spec.VCPUs, spec.MemoryMB = hp.Resource.VCPU, hp.Resource.Memory
		if spec.VCPUs < 0 {
			p.errorf("resource.vcpu", "negative resources: %d", spec.VCPUs)
		}
		if spec.MemoryMB < 0 {
			p.errorf("resource.memory", "negative resources: %d", spec.MemoryMB)
		} else if spec.MemoryMB != 0 && spec.MemoryMB < minMemoryMB {
			p.errorf("resource.memory", "memory %d MB is below the guest's minimum of %d MB", spec.MemoryMB, minMemoryMB)
		}
	}
	if len(hp.DNS)+len(hp.DNSSearch)+len(hp.DNSOptions) > 0 {
		spec.DNS = &types.DNSConfig{Nameservers: hp.DNS, Searches: hp.DNSSearch, Options: hp.DNSOptions}
		checkDNS(p, "dns", spec.DNS)
	}

	// Pod files and volumes first: the containers refer to them.
	files := map[string]bool{}
	for i, f := range hp.Files {
		fp := index("files", i)
		if !checkDeclName(p, field(fp, "name"), "file", f.Name, files) {
			continue
		}
		content, src, ok := fileContent(p, fp, f.Encoding, f.URI, f.Content)
		if ok {
			spec.Files = append(spec.Files, types.File{Name: f.Name, Content: content, Source: src})
		}
	}
	vols := map[string]bool{}
	for i, v := range hp.Volumes {
		fp := index("volumes", i)
		if !checkDeclName(p, field(fp, "name"), "volume", v.Name, vols) {
			continue
		}
		if vol, ok := hyperVolumeSource(p, fp, v); ok {
			spec.Volumes = append(spec.Volumes, vol)
		}
	}

	names := map[string]string{}
	for i, hc := range hp.InitContainers {
		c := convertHyperContainer(p, index("initContainers", i), hc, hp.Tty, files, vols, &spec.Ports, names)
		spec.InitContainers = append(spec.InitContainers, c)
	}
	for i, hc := range hp.Containers {
		c := convertHyperContainer(p, index("containers", i), hc, hp.Tty, files, vols, &spec.Ports, names)
		spec.Containers = append(spec.Containers, c)
	}
	if len(spec.Containers) == 0 {
		p.errorf("containers", "the pod has no containers")
	}
	for i, pm := range hp.PortMappings {
		if m, ok := portMapping(p, index("portmappings", i), pm.ContainerPort, pm.HostPort, pm.Protocol, true); ok {
			spec.Ports = append(spec.Ports, m)
		}
	}
	checkHostPorts(p, "ports", spec.Ports)
	return spec
}

func hyperVolumeSource(p *problems, fp string, v hyperVolume) (types.Volume, bool) {
	vol := types.Volume{Name: v.Name}
	switch f := strings.ToLower(v.Format); f {
	case "", "vfs":
		switch {
		case v.Source == "":
			if v.ReadOnly {
				p.errorf(field(fp, "readOnly"), "a new empty volume cannot be read-only")
				return vol, false
			}
			vol.EmptyDir = &types.EmptyDirVolumeSource{}
		case path.IsAbs(v.Source):
			vol.HostPath = &types.HostPathVolumeSource{Path: v.Source, ReadOnly: v.ReadOnly}
		case validName.MatchString(v.Source):
			vol.Named = &types.NamedVolumeSource{Name: v.Source, ReadOnly: v.ReadOnly}
		default:
			p.errorf(field(fp, "source"), "%q is neither an absolute host path nor a volume name", v.Source)
			return vol, false
		}
		if v.Fstype != "" {
			p.warnf(field(fp, "fstype"), "ignored: only NFS volumes (format nas) have a file system type")
		}
	case "raw", "qcow2":
		p.errorf(field(fp, "format"), "not supported: disk-image volumes (format %q) cannot be attached; share a host directory (format vfs) instead", v.Format)
		return vol, false
	case "nas":
		p.errorf(field(fp, "format"), "not supported: NFS volumes (format nas) are not mounted by the guest; mount %q on the host and share that directory (format vfs)", v.Source)
		return vol, false
	case "rbd":
		p.errorf(field(fp, "format"), "not supported: Ceph RBD volumes (format rbd)")
		return vol, false
	default:
		p.errorf(field(fp, "format"), "unknown volume format %q: use vfs (or leave it empty)", v.Format)
		return vol, false
	}
	return vol, true
}

func convertHyperContainer(p *problems, fp string, hc hyperContainer, podTty *bool,
	files, vols map[string]bool, ports *[]types.PortMapping, names map[string]string) types.ContainerSpec {
	c := types.ContainerSpec{Name: hc.Name, Image: hc.Image, WorkingDir: hc.Workdir,
		Labels: hc.Labels, OpenStdin: hc.Stdin, Sysctls: hc.Sysctl, ReadOnlyRootfs: hc.ReadOnly,
		CapAdd: hc.CapAdd, CapDrop: hc.CapDrop, Privileged: hc.Privileged, SecurityOpt: hc.SecurityOpt}
	checkContainerName(p, field(fp, "name"), c.Name, fp, names)
	checkImage(p, field(fp, "image"), c.Image)
	if len(hc.Entrypoint) > 0 {
		c.Entrypoint = hc.Entrypoint
	}
	if len(hc.Command) > 0 {
		c.Cmd = hc.Command
	}
	checkWorkdir(p, field(fp, "workdir"), c.WorkingDir)
	for i, e := range hc.Envs {
		if env, ok := envVar(p, index(field(fp, "envs"), i), e.Env, e.Value); ok {
			c.Env = append(c.Env, env)
		}
	}
	c.RestartPolicy = restartPolicy(p, field(fp, "restartPolicy"), hc.RestartPolicy)
	switch {
	case hc.Tty != nil:
		c.Tty = *hc.Tty
	case podTty != nil:
		c.Tty = *podTty
	}
	switch {
	case hc.User.Name != "" && hc.User.Group != "":
		c.User = hc.User.Name + ":" + hc.User.Group
	case hc.User.Name != "":
		c.User = hc.User.Name
	case hc.User.Group != "" || len(hc.User.AdditionalGroups) > 0:
		p.errorf(field(fp, "user"), "group and additionalGroups need user.name")
	}
	c.AdditionalGroups = hc.User.AdditionalGroups
	for i, hpm := range hc.Ports {
		if m, ok := portMapping(p, index(field(fp, "ports"), i), hpm.ContainerPort, hpm.HostPort, hpm.Protocol, true); ok {
			*ports = append(*ports, m)
		}
	}
	for i, m := range hc.Volumes {
		addVolumeMount(p, index(field(fp, "volumes"), i), "path", vols, &c.VolumeMounts,
			types.VolumeMount{Name: m.Volume, MountPath: m.Path, ReadOnly: m.ReadOnly})
	}
	checkMountsUnique(p, field(fp, "volumes"), c.VolumeMounts)
	for i, f := range hc.Files {
		ffp := index(field(fp, "files"), i)
		if !declared(p, ffp, "file", f.Filename, files) {
			continue
		}
		dst := f.Path
		if strings.HasSuffix(dst, "/") {
			dst += path.Base(f.Filename)
		}
		if dst = checkContainerPath(p, field(ffp, "path"), "file path", dst); dst == "" {
			continue
		}
		c.Files = append(c.Files, types.FileMount{Name: f.Filename, Path: dst,
			Perm: filePerm(p, field(ffp, "perm"), f.Perm), User: f.User, Group: f.Group})
	}
	c.StopSignal = stopSignal(p, field(fp, "stopSignal"), hc.StopSignal)
	for i, u := range hc.Ulimits {
		if ul, ok := checkUlimit(p, index(field(fp, "ulimits"), i), types.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}); ok {
			c.Ulimits = append(c.Ulimits, ul)
		}
	}
	checkSysctls(p, field(fp, "sysctl"), c.Sysctls)
	return c
}
