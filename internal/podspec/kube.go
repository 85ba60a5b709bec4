package podspec

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
)

// The subset of the Kubernetes v1 Pod that Hyper reads. Keys are
// case-sensitive, as in Kubernetes.

type kubePod struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Metadata   kubeMeta  `json:"metadata"`
	Spec       *kubeSpec `json:"spec"`
	Status     ignored   `json:"status" why:"status is written by Kubernetes, not read"`
}

type kubeMeta struct {
	Name              string            `json:"name"`
	GenerateName      refused           `json:"generateName" why:"give metadata.name"`
	Namespace         ignored           `json:"namespace" why:"Hyper has no namespaces"`
	Labels            map[string]string `json:"labels"`
	Annotations       quiet             `json:"annotations"`
	UID               quiet             `json:"uid"`
	ResourceVersion   quiet             `json:"resourceVersion"`
	Generation        quiet             `json:"generation"`
	CreationTimestamp quiet             `json:"creationTimestamp"`
	SelfLink          quiet             `json:"selfLink"`
	ManagedFields     quiet             `json:"managedFields"`
	OwnerReferences   ignored           `json:"ownerReferences" why:"no controller manages the pod"`
	Finalizers        ignored           `json:"finalizers" why:"no controller manages the pod"`
}

type kubeSpec struct {
	Containers                    []kubeContainer  `json:"containers"`
	InitContainers                []kubeContainer  `json:"initContainers"`
	Volumes                       []kubeVolume     `json:"volumes"`
	RestartPolicy                 string           `json:"restartPolicy"`
	Hostname                      string           `json:"hostname"`
	DNSPolicy                     string           `json:"dnsPolicy"`
	DNSConfig                     *kubeDNSConfig   `json:"dnsConfig"`
	SecurityContext               *kubePodSecurity `json:"securityContext"`
	Subdomain                     ignored          `json:"subdomain" why:"there is no cluster DNS"`
	SetHostnameAsFQDN             ignored          `json:"setHostnameAsFQDN" why:"there is no cluster DNS"`
	TerminationGracePeriodSeconds ignored          `json:"terminationGracePeriodSeconds" why:"hyperctl stop has its own timeout"`
	ActiveDeadlineSeconds         refused          `json:"activeDeadlineSeconds" why:"pods have no deadline"`
	NodeName                      ignored          `json:"nodeName" why:"there is no scheduler: the pod runs on this host"`
	NodeSelector                  ignored          `json:"nodeSelector" why:"there is no scheduler: the pod runs on this host"`
	Affinity                      ignored          `json:"affinity" why:"there is no scheduler: the pod runs on this host"`
	Tolerations                   ignored          `json:"tolerations" why:"there is no scheduler: the pod runs on this host"`
	TopologySpreadConstraints     ignored          `json:"topologySpreadConstraints" why:"there is no scheduler: the pod runs on this host"`
	SchedulerName                 ignored          `json:"schedulerName" why:"there is no scheduler: the pod runs on this host"`
	SchedulingGates               ignored          `json:"schedulingGates" why:"there is no scheduler: the pod runs on this host"`
	PriorityClassName             ignored          `json:"priorityClassName" why:"there is no scheduler: the pod runs on this host"`
	Priority                      ignored          `json:"priority" why:"there is no scheduler: the pod runs on this host"`
	PreemptionPolicy              ignored          `json:"preemptionPolicy" why:"there is no scheduler: the pod runs on this host"`
	RuntimeClassName              ignored          `json:"runtimeClassName" why:"every pod is a QEMU VM"`
	Overhead                      ignored          `json:"overhead" why:"every pod is a QEMU VM"`
	ServiceAccountName            ignored          `json:"serviceAccountName" why:"there is no Kubernetes API server"`
	ServiceAccount                ignored          `json:"serviceAccount" why:"there is no Kubernetes API server"`
	AutomountServiceAccountToken  ignored          `json:"automountServiceAccountToken" why:"there is no Kubernetes API server"`
	EnableServiceLinks            ignored          `json:"enableServiceLinks" why:"there are no Kubernetes services"`
	ImagePullSecrets              ignored          `json:"imagePullSecrets" why:"images come from hyperd's image store"`
	ReadinessGates                ignored          `json:"readinessGates" why:"readiness is not tracked"`
	ShareProcessNamespace         ignored          `json:"shareProcessNamespace" why:"the VM's process namespaces are set by the guest"`
	OS                            ignored          `json:"os" why:"the guest is Linux"`
	HostNetwork                   refused          `json:"hostNetwork" why:"a pod is a VM with its own network"`
	HostPID                       refused          `json:"hostPID" why:"a pod is a VM with its own processes"`
	HostIPC                       refused          `json:"hostIPC" why:"a pod is a VM"`
	HostUsers                     refused          `json:"hostUsers" why:"a pod is a VM"`
	HostAliases                   refused          `json:"hostAliases" why:"not implemented; use a file mount of /etc/hosts"`
	Resources                     refused          `json:"resources" why:"set resources.limits on each container"`
	ResourceClaims                refused          `json:"resourceClaims" why:"there are no dynamic resources"`
	ResourceHints                 refused          `json:"resourceHints" why:"there are no dynamic resources"`
}

type kubeContainer struct {
	Name                     string        `json:"name"`
	Image                    string        `json:"image"`
	Command                  []string      `json:"command"`
	Args                     []string      `json:"args"`
	WorkingDir               string        `json:"workingDir"`
	Ports                    []kubePort    `json:"ports"`
	Env                      []kubeEnv     `json:"env"`
	Resources                kubeResources `json:"resources"`
	VolumeMounts             []kubeMount   `json:"volumeMounts"`
	SecurityContext          *kubeSecurity `json:"securityContext"`
	Stdin                    bool          `json:"stdin"`
	TTY                      bool          `json:"tty"`
	RestartPolicy            string        `json:"restartPolicy"`
	StdinOnce                ignored       `json:"stdinOnce" why:"stdin stays open"`
	ImagePullPolicy          ignored       `json:"imagePullPolicy" why:"images come from hyperd's image store (hyperctl pull)"`
	LivenessProbe            ignored       `json:"livenessProbe" why:"probes are not run"`
	ReadinessProbe           ignored       `json:"readinessProbe" why:"probes are not run"`
	StartupProbe             ignored       `json:"startupProbe" why:"probes are not run"`
	TerminationMessagePath   ignored       `json:"terminationMessagePath" why:"termination messages are not collected"`
	TerminationMessagePolicy ignored       `json:"terminationMessagePolicy" why:"termination messages are not collected"`
	ResizePolicy             ignored       `json:"resizePolicy" why:"resources are fixed when the VM starts"`
	Lifecycle                refused       `json:"lifecycle" why:"lifecycle hooks are not run"`
	EnvFrom                  refused       `json:"envFrom" why:"there are no ConfigMaps or Secrets; list the variables in env"`
	VolumeDevices            refused       `json:"volumeDevices" why:"block devices cannot be passed to containers"`
	RestartPolicyRules       refused       `json:"restartPolicyRules" why:"not implemented"`
}

type kubePort struct {
	Name          string    `json:"name"`
	ContainerPort portRange `json:"containerPort"`
	HostPort      portRange `json:"hostPort"`
	Protocol      string    `json:"protocol"`
	HostIP        refused   `json:"hostIP" why:"ports are published on all host addresses"`
}

type kubeEnv struct {
	Name      string  `json:"name"`
	Value     string  `json:"value"`
	ValueFrom refused `json:"valueFrom" why:"there is no Kubernetes API server to take values from; give value"`
}

type kubeResources struct {
	Limits   map[string]quantity `json:"limits"`
	Requests map[string]quantity `json:"requests"`
	Claims   refused             `json:"claims" why:"there are no dynamic resources"`
}

type kubeMount struct {
	Name              string  `json:"name"`
	MountPath         string  `json:"mountPath"`
	ReadOnly          bool    `json:"readOnly"`
	SubPath           refused `json:"subPath" why:"volumes are mounted whole"`
	SubPathExpr       refused `json:"subPathExpr" why:"volumes are mounted whole"`
	MountPropagation  ignored `json:"mountPropagation" why:"mounts do not propagate between a VM and its host"`
	RecursiveReadOnly ignored `json:"recursiveReadOnly" why:"read-only mounts are read-only throughout"`
}

type kubeSecurity struct {
	RunAsUser                *int64              `json:"runAsUser"`
	RunAsGroup               *int64              `json:"runAsGroup"`
	RunAsNonRoot             *bool               `json:"runAsNonRoot"`
	ReadOnlyRootFilesystem   bool                `json:"readOnlyRootFilesystem"`
	Privileged               *bool               `json:"privileged"`
	Capabilities             *kubeCapabilities   `json:"capabilities"`
	AllowPrivilegeEscalation *bool               `json:"allowPrivilegeEscalation"`
	SeccompProfile           *kubeSeccompProfile `json:"seccompProfile"`
	SELinuxOptions           ignored             `json:"seLinuxOptions" why:"the guest has no SELinux"`
	AppArmorProfile          ignored             `json:"appArmorProfile" why:"the guest has no AppArmor"`
	ProcMount                ignored             `json:"procMount" why:"the guest mounts /proc"`
	WindowsOptions           ignored             `json:"windowsOptions" why:"the guest is Linux"`
}

type kubePodSecurity struct {
	RunAsUser                *int64              `json:"runAsUser"`
	RunAsGroup               *int64              `json:"runAsGroup"`
	RunAsNonRoot             *bool               `json:"runAsNonRoot"`
	SELinuxOptions           ignored             `json:"seLinuxOptions" why:"the guest has no SELinux"`
	SeccompProfile           *kubeSeccompProfile `json:"seccompProfile"`
	AppArmorProfile          ignored             `json:"appArmorProfile" why:"the guest has no AppArmor"`
	WindowsOptions           ignored             `json:"windowsOptions" why:"the guest is Linux"`
	SupplementalGroups       []int64             `json:"supplementalGroups"`
	Sysctls                  []kubePair          `json:"sysctls"`
	FSGroup                  ignored             `json:"fsGroup" why:"volume ownership is not changed"`
	FSGroupChangePolicy      ignored             `json:"fsGroupChangePolicy" why:"volume ownership is not changed"`
	SupplementalGroupsPolicy ignored             `json:"supplementalGroupsPolicy" why:"not implemented"`
}

type kubePair struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

type kubeDNSConfig struct {
	Nameservers []string   `json:"nameservers"`
	Searches    []string   `json:"searches"`
	Options     []kubePair `json:"options"`
}

type kubeVolume struct {
	Name                  string        `json:"name"`
	HostPath              *kubeHostPath `json:"hostPath"`
	EmptyDir              *kubeEmptyDir `json:"emptyDir"`
	PersistentVolumeClaim *kubeClaim    `json:"persistentVolumeClaim"`
	ConfigMap             refused       `json:"configMap" why:"there is no Kubernetes API server"`
	Secret                refused       `json:"secret" why:"there is no Kubernetes API server"`
	DownwardAPI           refused       `json:"downwardAPI" why:"there is no Kubernetes API server"`
	Projected             refused       `json:"projected" why:"there is no Kubernetes API server"`
	NFS                   refused       `json:"nfs" why:"the guest mounts no NFS; mount it on the host and use hostPath"`
}

type kubeHostPath struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

type kubeEmptyDir struct {
	Medium    string   `json:"medium"`
	SizeLimit quantity `json:"sizeLimit"`
}

type kubeClaim struct {
	ClaimName string `json:"claimName"`
	ReadOnly  bool   `json:"readOnly"`
}

func convertKube(top *object, p *problems) types.PodSpec {
	var kp kubePod
	api, _ := top.get("apiVersion", false)
	kind, _ := top.get("kind", false)
	apiS, _ := scalarText(api)
	kindS, _ := scalarText(kind)
	switch {
	case kind == nil:
		p.errorf("kind", "missing: a Kubernetes manifest must say kind: Pod")
		return types.PodSpec{}
	case kindS != "Pod":
		p.errorf("kind", "%s is not supported: only Kubernetes Pods (kind: Pod) are read", quoted(kind))
		return types.PodSpec{}
	case api == nil:
		p.errorf("apiVersion", "missing: a Kubernetes Pod must say apiVersion: v1")
		return types.PodSpec{}
	case apiS != "v1":
		p.errorf("apiVersion", "%s is not supported: only apiVersion v1 Pods are read (v1beta1 and older were removed from Kubernetes in 2015; rewrite the manifest for v1)", quoted(api))
		return types.PodSpec{}
	}
	d := &decoder{p: p}
	d.decode("", top, reflectValue(&kp))
	if kp.Spec == nil {
		p.errorf("spec", "missing")
		return types.PodSpec{}
	}
	ks := kp.Spec
	spec := types.PodSpec{Name: kp.Metadata.Name, Hostname: ks.Hostname, Labels: kp.Metadata.Labels}
	checkPodNames(p, "metadata.name", "spec.hostname", spec.Name, spec.Hostname)

	switch ks.RestartPolicy {
	case "", "Always", "always":
		spec.RestartPolicy = types.RestartPolicyAlways // Kubernetes' default
	default:
		spec.RestartPolicy = restartPolicy(p, "spec.restartPolicy", ks.RestartPolicy)
	}

	switch ks.DNSPolicy {
	case "", "ClusterFirst", "Default", "ClusterFirstWithHostNet":
	case "None":
		if ks.DNSConfig == nil || len(ks.DNSConfig.Nameservers) == 0 {
			p.errorf("spec.dnsPolicy", "None needs spec.dnsConfig.nameservers")
		}
	default:
		p.errorf("spec.dnsPolicy", "unknown DNS policy %q", ks.DNSPolicy)
	}
	if dc := ks.DNSConfig; dc != nil {
		spec.DNS = &types.DNSConfig{Nameservers: dc.Nameservers, Searches: dc.Searches}
		for i, o := range dc.Options {
			switch {
			case o.Name == "":
				p.errorf(index("spec.dnsConfig.options", i), "an option needs a name")
			case o.Value != nil && *o.Value != "":
				spec.DNS.Options = append(spec.DNS.Options, o.Name+":"+*o.Value)
			default:
				spec.DNS.Options = append(spec.DNS.Options, o.Name)
			}
		}
		checkDNS(p, "spec.dnsConfig.nameservers", spec.DNS)
	}

	vols := map[string]bool{}
	for i, kv := range ks.Volumes {
		fp := index("spec.volumes", i)
		if !checkDeclName(p, field(fp, "name"), "volume", kv.Name, vols) {
			continue
		}
		if v, ok := kubeVolumeSource(p, fp, kv); ok {
			spec.Volumes = append(spec.Volumes, v)
		}
	}

	var pod kubeSecurity
	var sysctls map[string]string
	if sc := ks.SecurityContext; sc != nil {
		pod = kubeSecurity{RunAsUser: sc.RunAsUser, RunAsGroup: sc.RunAsGroup, RunAsNonRoot: sc.RunAsNonRoot, SeccompProfile: sc.SeccompProfile}
		for i, s := range sc.Sysctls {
			if s.Name == "" || s.Value == nil {
				p.errorf(index("spec.securityContext.sysctls", i), "a sysctl needs a name and a value")
				continue
			}
			if sysctls == nil {
				sysctls = map[string]string{}
			}
			sysctls[s.Name] = *s.Value
		}
		checkSysctls(p, "spec.securityContext.sysctls", sysctls)
	}
	var groups []string
	if ks.SecurityContext != nil {
		for _, g := range ks.SecurityContext.SupplementalGroups {
			groups = append(groups, strconv.FormatInt(g, 10))
		}
	}

	names := map[string]string{}
	cpu := [2]*big.Rat{new(big.Rat), new(big.Rat)} // sum over containers, max over init containers
	mem := [2]*big.Rat{new(big.Rat), new(big.Rat)}
	for _, list := range []struct {
		path string
		cs   []kubeContainer
		out  *[]types.ContainerSpec
		init bool
	}{{"spec.initContainers", ks.InitContainers, &spec.InitContainers, true}, {"spec.containers", ks.Containers, &spec.Containers, false}} {
		for i, kc := range list.cs {
			fp := index(list.path, i)
			c := convertKubeContainer(p, fp, kc, list.init, vols, &spec.Ports, names)
			c.AdditionalGroups = groups
			if len(sysctls) > 0 {
				c.Sysctls = sysctls
			}
			kubeUser(p, fp, &c, pod, kc.SecurityContext)
			kubeConfine(p, fp, &c, pod.SeccompProfile, kc.SecurityContext)
			*list.out = append(*list.out, c)
			ccpu, cmem := kubeLimits(p, field(fp, "resources"), kc.Resources)
			if list.init {
				if ccpu.Cmp(cpu[1]) > 0 {
					cpu[1] = ccpu
				}
				if cmem.Cmp(mem[1]) > 0 {
					mem[1] = cmem
				}
			} else {
				cpu[0].Add(cpu[0], ccpu)
				mem[0].Add(mem[0], cmem)
			}
		}
	}
	if len(ks.Containers) == 0 {
		p.errorf("spec.containers", "the pod has no containers")
	}
	checkHostPorts(p, "spec.containers[*].ports", spec.Ports)
	totalCPU, totalMem := cpu[0], mem[0]
	if cpu[1].Cmp(totalCPU) > 0 {
		totalCPU = cpu[1]
	}
	if mem[1].Cmp(totalMem) > 0 {
		totalMem = mem[1]
	}
	if totalCPU.Sign() > 0 {
		n, ok := ceilDiv(totalCPU, 1, 1024)
		if !ok {
			p.errorf("spec.containers[*].resources.limits.cpu", "more than 1024 CPUs in all")
		}
		spec.VCPUs = n
	}
	if totalMem.Sign() > 0 {
		n, ok := ceilDiv(totalMem, 1<<20, 1<<30)
		if !ok {
			p.errorf("spec.containers[*].resources.limits.memory", "the memory limits are too large")
		} else if n < minMemoryMB {
			p.errorf("spec.containers[*].resources.limits.memory", "memory %d MB in all is below the guest's minimum of %d MB", n, minMemoryMB)
		}
		spec.MemoryMB = n
	}
	return spec
}

func kubeVolumeSource(p *problems, fp string, kv kubeVolume) (types.Volume, bool) {
	v := types.Volume{Name: kv.Name}
	n := 0
	if kv.HostPath != nil {
		n++
		switch kv.HostPath.Type {
		case "", "Directory", "File", "DirectoryOrCreate", "FileOrCreate", "Socket":
		default:
			p.errorf(field(fp, "hostPath.type"), "hostPath type %q is not supported: use Directory, File, DirectoryOrCreate, FileOrCreate or Socket", kv.HostPath.Type)
		}
		if kv.HostPath.Path == "" || kv.HostPath.Path[0] != '/' {
			p.errorf(field(fp, "hostPath.path"), "%q is not an absolute path", kv.HostPath.Path)
		}
		v.HostPath = &types.HostPathVolumeSource{Path: kv.HostPath.Path, Type: kv.HostPath.Type}
	}
	if kv.EmptyDir != nil {
		n++
		v.EmptyDir = &types.EmptyDirVolumeSource{}
		switch kv.EmptyDir.Medium {
		case "", "Memory":
			v.EmptyDir.Medium = kv.EmptyDir.Medium
		default:
			p.errorf(field(fp, "emptyDir.medium"), "medium %q is not supported: use \"\" or Memory", kv.EmptyDir.Medium)
		}
		if q := kv.EmptyDir.SizeLimit.v; q != nil {
			if q.Sign() < 0 {
				p.errorf(field(fp, "emptyDir.sizeLimit"), "negative size %s", kv.EmptyDir.SizeLimit.raw)
			} else if mb, ok := ceilDiv(q, 1<<20, 1<<40); ok {
				v.EmptyDir.SizeLimitMB = mb
			} else {
				p.errorf(field(fp, "emptyDir.sizeLimit"), "size %s is too large", kv.EmptyDir.SizeLimit.raw)
			}
		}
	}
	if kv.PersistentVolumeClaim != nil {
		n++
		if !validName.MatchString(kv.PersistentVolumeClaim.ClaimName) {
			p.errorf(field(fp, "persistentVolumeClaim.claimName"), "bad volume name %q", kv.PersistentVolumeClaim.ClaimName)
		}
		v.Named = &types.NamedVolumeSource{Name: kv.PersistentVolumeClaim.ClaimName, ReadOnly: kv.PersistentVolumeClaim.ReadOnly}
	}
	switch n {
	case 0:
		p.errorf(fp, "volume %q has no source: use hostPath, emptyDir or persistentVolumeClaim", kv.Name)
		return v, false
	case 1:
		return v, true
	}
	p.errorf(fp, "volume %q has %d sources: give exactly one", kv.Name, n)
	return v, false
}

func convertKubeContainer(p *problems, fp string, kc kubeContainer, init bool,
	vols map[string]bool, ports *[]types.PortMapping, names map[string]string) types.ContainerSpec {
	c := types.ContainerSpec{Name: kc.Name, Image: kc.Image, WorkingDir: kc.WorkingDir,
		Tty: kc.TTY, OpenStdin: kc.Stdin}
	if kc.Name == "" {
		p.errorf(field(fp, "name"), "missing: Kubernetes containers are named")
	}
	checkContainerName(p, field(fp, "name"), c.Name, fp, names)
	checkImage(p, field(fp, "image"), c.Image)
	if len(kc.Command) > 0 {
		c.Entrypoint = kc.Command // Kubernetes' command replaces the image's entrypoint
	}
	if len(kc.Args) > 0 {
		c.Cmd = kc.Args
	}
	checkWorkdir(p, field(fp, "workingDir"), c.WorkingDir)
	for i, e := range kc.Env {
		if env, ok := envVar(p, index(field(fp, "env"), i), e.Name, e.Value); ok {
			c.Env = append(c.Env, env)
		}
	}
	switch {
	case kc.RestartPolicy == "":
	case !init:
		p.errorf(field(fp, "restartPolicy"), "only init containers have a restart policy in a Kubernetes Pod")
	case kc.RestartPolicy == "Always":
		p.errorf(field(fp, "restartPolicy"), "not supported: sidecar init containers (restartPolicy: Always)")
	default:
		c.RestartPolicy = restartPolicy(p, field(fp, "restartPolicy"), kc.RestartPolicy)
	}
	for i, kp := range kc.Ports {
		if m, ok := portMapping(p, index(field(fp, "ports"), i), kp.ContainerPort, kp.HostPort, kp.Protocol, false); ok {
			*ports = append(*ports, m)
		}
	}
	for i, m := range kc.VolumeMounts {
		addVolumeMount(p, index(field(fp, "volumeMounts"), i), "mountPath", vols, &c.VolumeMounts,
			types.VolumeMount{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly})
	}
	checkMountsUnique(p, field(fp, "volumeMounts"), c.VolumeMounts)
	if kc.SecurityContext != nil {
		c.ReadOnlyRootfs = kc.SecurityContext.ReadOnlyRootFilesystem
	}
	return c
}

// kubeUser sets User from runAsUser/runAsGroup, the container's over the
// pod's.
func kubeUser(p *problems, fp string, c *types.ContainerSpec, pod kubeSecurity, own *kubeSecurity) {
	uid, gid, nonRoot := pod.RunAsUser, pod.RunAsGroup, pod.RunAsNonRoot
	if own != nil {
		if own.RunAsUser != nil {
			uid = own.RunAsUser
		}
		if own.RunAsGroup != nil {
			gid = own.RunAsGroup
		}
		if own.RunAsNonRoot != nil {
			nonRoot = own.RunAsNonRoot
		}
	}
	fp = field(fp, "securityContext")
	switch {
	case uid != nil && *uid < 0:
		p.errorf(field(fp, "runAsUser"), "negative user id %d", *uid)
	case gid != nil && *gid < 0:
		p.errorf(field(fp, "runAsGroup"), "negative group id %d", *gid)
	case uid == nil && gid != nil:
		p.errorf(field(fp, "runAsGroup"), "needs runAsUser (the image's user cannot be combined with another group)")
	case uid != nil && nonRoot != nil && *nonRoot && *uid == 0:
		p.errorf(field(fp, "runAsNonRoot"), "contradicts runAsUser: 0")
	case uid != nil && gid != nil:
		c.User = fmt.Sprintf("%d:%d", *uid, *gid)
	case uid != nil:
		c.User = strconv.FormatInt(*uid, 10)
	}
	// Without runAsUser, hyperd checks the image's user at creation.
	c.RunAsNonRoot = nonRoot != nil && *nonRoot
}

// kubeLimits returns a container's CPUs and memory bytes: its limits, or
// its requests where no limit is set.
func kubeLimits(p *problems, fp string, r kubeResources) (*big.Rat, *big.Rat) {
	cpu, mem := new(big.Rat), new(big.Rat)
	for _, part := range []struct {
		name string
		m    map[string]quantity
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		keys := make([]string, 0, len(part.m))
		for k := range part.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q := part.m[k]
			kp := field(field(fp, part.name), k)
			if q.v == nil {
				continue // reported already, or null
			}
			if q.v.Sign() < 0 {
				p.errorf(kp, "negative resources: %s", q.raw)
				continue
			}
			switch {
			case k == "cpu":
				cpu = q.v
			case k == "memory":
				mem = q.v
			case k == "ephemeral-storage":
				p.warnf(kp, "ignored: container disk space is not limited")
			case strings.HasPrefix(k, "hugepages-"):
				p.errorf(kp, "not supported: huge pages")
			default:
				p.errorf(kp, "not supported: resource %q (only cpu and memory)", k)
			}
		}
	}
	return cpu, mem
}

func quoted(v any) string {
	if s, ok := scalarText(v); ok {
		return strconv.Quote(s)
	}
	return describe(v)
}
