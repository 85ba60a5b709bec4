package podspec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
)

// examplesDir holds the original hyperd example pod files (and a README).
const examplesDir = "testdata/hyperd-examples"

// exampleFiles lists the example pod files of examplesDir.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "README.md" {
			names = append(names, e.Name())
		}
	}
	if len(names) != 14 {
		t.Fatalf("%s holds %d pod files, want hyperd's 14", examplesDir, len(names))
	}
	return names
}

func TestExamples(t *testing.T) {
	dir := examplesDir
	cases := map[string][]string{ // file -> substrings of the error; nil: parses
		"file-mapping.pod": nil,
		"insert-file.pod": {
			`files[1].uri: http://7xj84t.com1.z0.glb.clouddn.com/test/logo.png: http URIs are not fetched`,
			`files[4].content: bad base64 payload`,
		},
		"kubernetes_tomcat.pod":         {`apiVersion: "V1beta1" is not supported: only apiVersion v1`},
		"kubernetes_ubuntu_restart.pod": {`apiVersion: "V1beta1" is not supported`},
		"multi-container.pod":           nil,
		"nfs-volume.pod":                {`volumes[0].format: not supported: NFS volumes`},
		"port-mapping-in-sandbox.pod":   {`portmappingWhiteLists: not supported`},
		"port-mapping.pod":              nil,
		"tomcat.pod":                    nil,
		"ubuntu-attach-files.pod":       nil,
		"ubuntu-with-user.pod":          nil,
		"ubuntu.pod":                    nil,
		"ubuntu.yml":                    nil,
		"with-volume.pod":               nil,
	}
	for _, name := range exampleFiles(t) {
		if _, ok := cases[name]; !ok {
			t.Errorf("example %s has no expectation in this test", name)
		}
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			// Tests may swap image names: the result must not depend on them.
			data = []byte(strings.ReplaceAll(string(data), "ubuntu:latest", "busybox:1.36"))
			res, err := Parse(data, name)
			if want == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if len(res.Spec.Containers) == 0 {
					t.Fatal("no containers")
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error, got success: %+v", res.Spec)
			}
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Errorf("error %q does not name the file", err)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if pe, ok := err.(*Error); !ok || len(pe.Problems) != len(want) {
				t.Errorf("want exactly %d problems, got %v", len(want), err)
			}
		})
	}
}

func TestExampleDetails(t *testing.T) {
	dir := examplesDir
	parse := func(name string) types.PodSpec {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Parse(data, name)
		if err != nil {
			t.Fatal(err)
		}
		if res.Format != "hyper" {
			t.Errorf("%s: format %q", name, res.Format)
		}
		return res.Spec
	}
	s := parse("port-mapping.pod")
	if want := []types.PortMapping{{ContainerPort: 1300, HostPort: 3000, Protocol: "tcp", Count: 11}}; !reflect.DeepEqual(s.Ports, want) {
		t.Errorf("ports %+v", s.Ports)
	}
	s = parse("with-volume.pod")
	if s.Volumes[0].EmptyDir == nil || s.Volumes[1].HostPath == nil || s.Volumes[1].HostPath.Path != "/tmp" {
		t.Errorf("volumes %+v", s.Volumes)
	}
	if len(s.Containers[1].VolumeMounts) != 2 || s.Containers[1].VolumeMounts[1] != (types.VolumeMount{Name: "tmp", MountPath: "/mnt"}) {
		t.Errorf("mounts %+v", s.Containers[1].VolumeMounts)
	}
	s = parse("ubuntu-with-user.pod")
	if c := s.Containers[0]; c.User != "nobody:13" || !reflect.DeepEqual(c.AdditionalGroups, []string{"cdrom", "8"}) {
		t.Errorf("user %q groups %v", c.User, c.AdditionalGroups)
	}
	s = parse("ubuntu-attach-files.pod")
	if f := s.Containers[0].Files[0]; f.Path != "/etc/mysql/conf.d/disable-aio.cnf" || f.Perm != "0777" {
		t.Errorf("file mount %+v", f)
	}
	if string(s.Files[0].Content) != "[mysqld]\ninnodb_use_native_aio = FALSE" {
		t.Errorf("file content %q", s.Files[0].Content)
	}
	s = parse("multi-container.pod")
	if s.Containers[2].RestartPolicy != types.RestartPolicyAlways || !s.Containers[0].Tty || s.MemoryMB != 512 || s.VCPUs != 1 {
		t.Errorf("multi %+v", s)
	}
	if !reflect.DeepEqual(s.Containers[1].Cmd, []string{"/usr/bin/top"}) || s.Containers[1].Entrypoint != nil || s.Containers[1].WorkingDir != "/" {
		t.Errorf("command %+v", s.Containers[1])
	}
	s = parse("ubuntu.yml")
	if s.Name != "process-yaml-file-ubuntu" || s.VCPUs != 1 || s.MemoryMB != 0 || !s.Containers[0].Tty {
		t.Errorf("yaml %+v", s)
	}
	s = parse("file-mapping.pod")
	if s.Volumes[0].HostPath == nil || s.Volumes[0].HostPath.Path != "/etc/resolv.conf" {
		t.Errorf("file mapping %+v", s.Volumes)
	}
}

const kubePodYAML = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels: {app: web, tier: "1"}
  annotations: {note: x}
spec:
  hostname: web-1
  restartPolicy: OnFailure
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.0.0.53]
    searches: [example.com]
    options:
    - name: ndots
      value: "2"
    - name: rotate
  securityContext:
    runAsUser: 1000
    supplementalGroups: [5]
  initContainers:
  - name: setup
    image: busybox
    command: [sh, -c, "echo hi > /work/index.html"]
    volumeMounts:
    - {name: work, mountPath: /work}
  - name: setup2
    image: busybox
    args: [true]
  containers:
  - name: nginx
    image: nginx:1.25
    ports:
    - containerPort: 80
      hostPort: 8080
    - containerPort: 53
      protocol: UDP
    env:
    - name: A
      value: "1"
    - name: B
    resources:
      limits: {cpu: "0.5", memory: 512Mi}
    volumeMounts:
    - name: work
      mountPath: /usr/share/nginx/html
      readOnly: true
    imagePullPolicy: IfNotPresent
  - name: sidecar
    image: busybox
    command: [sleep]
    args: ["3600"]
    workingDir: /tmp
    tty: true
    stdin: true
    securityContext:
      runAsUser: 0
      runAsGroup: 0
      readOnlyRootFilesystem: true
    resources:
      limits: {cpu: 1, memory: 1Gi}
    volumeMounts:
    - name: work
      mountPath: /work
    - name: cache
      mountPath: /cache
  volumes:
  - name: work
    emptyDir: {}
  - name: cache
    emptyDir:
      medium: Memory
      sizeLimit: 100M
`

func TestKubernetesPod(t *testing.T) {
	res, err := Parse([]byte(kubePodYAML), "pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := res.Spec
	if res.Format != "kubernetes" || s.Name != "web" || s.Hostname != "web-1" || s.Labels["tier"] != "1" {
		t.Errorf("pod %+v", s)
	}
	if s.RestartPolicy != types.RestartPolicyOnFailure {
		t.Errorf("restart policy %q", s.RestartPolicy)
	}
	if want := (&types.DNSConfig{Nameservers: []string{"10.0.0.53"}, Searches: []string{"example.com"}, Options: []string{"ndots:2", "rotate"}}); !reflect.DeepEqual(s.DNS, want) {
		t.Errorf("dns %+v", s.DNS)
	}
	// 0.5 + 1 CPU -> 2; 512Mi + 1Gi -> 1536 MB
	if s.VCPUs != 2 || s.MemoryMB != 1536 {
		t.Errorf("resources %d CPUs %d MB", s.VCPUs, s.MemoryMB)
	}
	if len(s.InitContainers) != 2 || s.InitContainers[0].Name != "setup" || s.InitContainers[1].Name != "setup2" {
		t.Fatalf("init containers %+v", s.InitContainers)
	}
	if ic := s.InitContainers[0]; !reflect.DeepEqual(ic.Entrypoint, []string{"sh", "-c", "echo hi > /work/index.html"}) || ic.Cmd != nil || ic.User != "1000" {
		t.Errorf("init container %+v", ic)
	}
	if !reflect.DeepEqual(s.InitContainers[1].Cmd, []string{"true"}) {
		t.Errorf("init args %+v", s.InitContainers[1].Cmd)
	}
	if len(s.Containers) != 2 {
		t.Fatalf("containers %+v", s.Containers)
	}
	n := s.Containers[0]
	if n.Entrypoint != nil || n.Cmd != nil || !reflect.DeepEqual(n.Env, []string{"A=1", "B="}) || n.User != "1000" ||
		!reflect.DeepEqual(n.AdditionalGroups, []string{"5"}) {
		t.Errorf("nginx %+v", n)
	}
	if !reflect.DeepEqual(n.VolumeMounts, []types.VolumeMount{{Name: "work", MountPath: "/usr/share/nginx/html", ReadOnly: true}}) {
		t.Errorf("mounts %+v", n.VolumeMounts)
	}
	sc := s.Containers[1]
	if !reflect.DeepEqual(sc.Entrypoint, []string{"sleep"}) || !reflect.DeepEqual(sc.Cmd, []string{"3600"}) ||
		sc.WorkingDir != "/tmp" || !sc.Tty || !sc.OpenStdin || sc.User != "0:0" || !sc.ReadOnlyRootfs {
		t.Errorf("sidecar %+v", sc)
	}
	wantPorts := []types.PortMapping{{ContainerPort: 80, HostPort: 8080, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"}}
	if !reflect.DeepEqual(s.Ports, wantPorts) {
		t.Errorf("ports %+v", s.Ports)
	}
	wantVols := []types.Volume{{Name: "work", EmptyDir: &types.EmptyDirVolumeSource{}},
		{Name: "cache", EmptyDir: &types.EmptyDirVolumeSource{Medium: "Memory", SizeLimitMB: 96}}}
	if !reflect.DeepEqual(s.Volumes, wantVols) {
		t.Errorf("volumes %+v", s.Volumes)
	}
	wantWarn := []string{"metadata.namespace: ignored", "spec.containers[0].imagePullPolicy: ignored"}
	if len(res.Warnings) != len(wantWarn) {
		t.Fatalf("warnings %q", res.Warnings)
	}
	for i, w := range wantWarn {
		if !strings.HasPrefix(res.Warnings[i], w) {
			t.Errorf("warning %q, want %q", res.Warnings[i], w)
		}
	}
}

func TestKubernetesJSONAndDefaults(t *testing.T) {
	res, err := Parse([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
	  "spec":{"containers":[{"name":"a","image":"busybox","resources":{"requests":{"memory":"100Mi","cpu":"250m"}}}],
	  "volumes":[{"name":"h","hostPath":{"path":"/srv","type":"Directory"}},{"name":"n","persistentVolumeClaim":{"claimName":"data","readOnly":true}}]}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	s := res.Spec
	if s.RestartPolicy != types.RestartPolicyAlways || s.VCPUs != 1 || s.MemoryMB != 100 {
		t.Errorf("defaults %+v", s)
	}
	if s.Volumes[0].HostPath.Type != "Directory" || *s.Volumes[1].Named != (types.NamedVolumeSource{Name: "data", ReadOnly: true}) {
		t.Errorf("volumes %+v", s.Volumes)
	}
}

func TestHyperCaseInsensitiveAndExtras(t *testing.T) {
	res, err := Parse([]byte(`
ID: p
Hostname: h
RestartPolicy: onFailure:3
dns: [1.1.1.1]
dnsSearch: [a.example]
dnsOptions: [ndots:1]
Resource: {VCPU: 2, Memory: 100}
Labels: {App: X}
log: {type: json-file}
files:
- {name: b64, encoding: base64, content: "aGk="}
volumes:
- {name: named, source: mydata, readOnly: true}
containers:
- name: c
  image: busybox
  entrypoint: [sh]
  command: [-c, "echo"]
  envs: [{env: K, value: V}]
  ports: [{containerPort: 80, hostPort: "8080", protocol: UDP}]
  files: [{path: /etc/x, filename: b64, perm: 0600, user: 1, group: 2}]
  volumes: [{volume: named, path: /data/, readOnly: true}]
  stopSignal: term
  ulimits: [{name: nofile, soft: 1024, hard: 4096}]
  sysctl: {net.core.somaxconn: "1024"}
  readOnly: true
  user: root
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := res.Spec
	if s.Name != "p" || s.Hostname != "h" || s.RestartPolicy != "onFailure:3" || s.VCPUs != 2 || s.MemoryMB != 100 || s.Labels["App"] != "X" {
		t.Errorf("pod %+v", s)
	}
	if !reflect.DeepEqual(s.DNS, &types.DNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"}, Options: []string{"ndots:1"}}) {
		t.Errorf("dns %+v", s.DNS)
	}
	if string(s.Files[0].Content) != "hi" || *s.Volumes[0].Named != (types.NamedVolumeSource{Name: "mydata", ReadOnly: true}) {
		t.Errorf("files %+v volumes %+v", s.Files, s.Volumes)
	}
	c := s.Containers[0]
	want := types.ContainerSpec{Name: "c", Image: "busybox", Entrypoint: []string{"sh"}, Cmd: []string{"-c", "echo"},
		Env: []string{"K=V"}, User: "root", VolumeMounts: []types.VolumeMount{{Name: "named", MountPath: "/data", ReadOnly: true}},
		Files:      []types.FileMount{{Name: "b64", Path: "/etc/x", Perm: "0600", User: "1", Group: "2"}},
		StopSignal: "SIGTERM", Ulimits: []types.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}},
		Sysctls: map[string]string{"net.core.somaxconn": "1024"}, ReadOnlyRootfs: true}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("container\n got %+v\nwant %+v", c, want)
	}
	if !reflect.DeepEqual(s.Ports, []types.PortMapping{{ContainerPort: 80, HostPort: 8080, Protocol: "udp"}}) {
		t.Errorf("ports %+v", s.Ports)
	}
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "log: ignored") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestFileURI(t *testing.T) {
	p := filepath.Join(t.TempDir(), "conf")
	if err := os.WriteFile(p, []byte("x=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Parse([]byte(`{"containers":[{"image":"busybox","files":[{"path":"/etc/","filename":"f"}]}],
	  "files":[{"name":"f","uri":"file://`+p+`"}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Spec.Files[0].Content) != "x=1\n" || res.Spec.Files[0].Source != "file://"+p ||
		res.Spec.Containers[0].Files[0].Path != "/etc/f" {
		t.Errorf("%+v", res.Spec)
	}
}

func TestFileLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, maxFileSize+1), 0o600)
	b64 := filepath.Join(dir, "b64")
	os.WriteFile(b64, []byte(base64.StdEncoding.EncodeToString(make([]byte, maxFileSize))), 0o600)
	huge := filepath.Join(dir, "huge")
	os.WriteFile(huge, make([]byte, maxFileRead+1), 0o600)
	_, err := Parse([]byte(`{"containers":[{"image":"busybox"}], "files":[
	  {"name":"a","uri":"file://`+big+`"},
	  {"name":"b","uri":"file://`+b64+`","encoding":"base64"},
	  {"name":"c","uri":"file://`+huge+`"},
	  {"name":"d","uri":"file://`+dir+`"},
	  {"name":"e","uri":"file://`+dir+`/missing"}]}`), "")
	want := []string{
		fmt.Sprintf("files[0].uri: %d bytes: larger than 512 KiB", maxFileSize+1),
		"files[2].uri: file://" + huge + ": " + huge + " is larger than 1024 KiB",
		"files[3].uri: file://" + dir + ": " + dir + " is not a regular file",
		"files[4].uri: file://" + dir + "/missing: cannot read " + dir + "/missing: no such file",
	}
	var pe *Error
	if !errors.As(err, &pe) || len(pe.Problems) != len(want) {
		t.Fatalf("got %v, want %d problems", err, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(pe.Problems[i], w) {
			t.Errorf("problem %d: %q, want %q...", i, pe.Problems[i], w)
		}
	}
}

// TestErrors: each problem is refused with a message naming its field.
func TestErrors(t *testing.T) {
	const c = `"containers":[{"name":"a","image":"busybox"}]`
	cases := []struct{ name, doc, want string }{
		{"malformed JSON", "{\n\"id\": \"x\",\n}", "malformed JSON at line 3, column 1"},
		{"malformed YAML", "id: x\ncontainers: [\n  - a\n b: c", "malformed YAML: line"},
		{"truncated JSON", `{"id": "x"`, "malformed JSON at line 1"},
		{"not an object", `[1]`, "a pod file must be an object"},
		{"empty", "  \n", "empty pod file"},
		{"two YAML documents", "id: a\n---\nid: b\n", "one document"},
		{"duplicate key", `{"id":"a","id":"b",` + c + `}`, `duplicate key "id"`},
		{"duplicate field, other case", `{"id":"a","ID":"b",` + c + `}`, `ID: duplicate field (also given as "id")`},
		{"unknown field", `{"contianers":[]}`, "contianers: unknown field"},
		{"unknown container field", `{"containers":[{"image":"x","imagePullPolicy":"x"}]}`, "containers[0].imagePullPolicy: unknown field"},
		{"wrong type", `{"containers":[{"image":"x","command":"ls"}]}`, `containers[0].command: expected a list, got the string "ls"`},
		{"no containers", `{"id":"x"}`, "containers: the pod has no containers"},
		{"duplicate container names", `{"containers":[{"name":"a","image":"x"},{"name":"a","image":"y"}]}`, `containers[1].name: duplicate container name "a" (also containers[0])`},
		{"undeclared volume", `{"containers":[{"image":"x"},{"image":"x","volumes":[{"volume":"data","path":"/d"}]}]}`, `containers[1].volumes[0]: volume "data" is not declared`},
		{"undeclared file", `{"containers":[{"image":"x","files":[{"filename":"f","path":"/f"}]}]}`, `containers[0].files[0]: file "f" is not declared`},
		{"mount over /proc", `{"volumes":[{"name":"v"}],"containers":[{"image":"x","volumes":[{"volume":"v","path":"/proc/sys"}]}]}`, `containers[0].volumes[0].path: mount path "/proc/sys" is under /proc`},
		{"mount over /sys", `{"volumes":[{"name":"v"}],"containers":[{"image":"x","volumes":[{"volume":"v","path":"/sys"}]}]}`, `is under /sys`},
		{"mount over /dev", `{"volumes":[{"name":"v"}],"containers":[{"image":"x","volumes":[{"volume":"v","path":"/dev/"}]}]}`, `is under /dev`},
		{"relative mount", `{"volumes":[{"name":"v"}],"containers":[{"image":"x","volumes":[{"volume":"v","path":"data"}]}]}`, `not an absolute path`},
		{"negative vcpu", `{"resource":{"vcpu":-1},` + c + `}`, "resource.vcpu: negative resources"},
		{"negative memory", `{"resource":{"memory":-5},` + c + `}`, "resource.memory: negative resources"},
		{"low memory", `{"resource":{"memory":32},` + c + `}`, "resource.memory: memory 32 MB is below the guest's minimum of 64 MB"},
		{"bad base64", `{"files":[{"name":"f","encoding":"base64","content":"!!!"}],` + c + `}`, "files[0].content: bad base64 payload"},
		{"bad encoding", `{"files":[{"name":"f","encoding":"gzip","content":"x"}],` + c + `}`, `files[0].encoding: unknown encoding "gzip"`},
		{"unequal ranges", `{"portmappings":[{"containerPort":"1300-1310","hostPort":"3000-3005"}],` + c + `}`, "portmappings[0]: container ports 1300-1310 (11) and host ports 3000-3005 (6) are ranges of unequal lengths"},
		{"port out of range", `{"portmappings":[{"containerPort":0,"hostPort":80}],` + c + `}`, `portmappings[0].containerPort: port "0" is out of range 1-65535`},
		{"port too high", `{"portmappings":[{"containerPort":80,"hostPort":"65530-65536"}],` + c + `}`, `out of range 1-65535`},
		{"backwards range", `{"portmappings":[{"containerPort":"20-10","hostPort":"20-10"}],` + c + `}`, "ends before it starts"},
		{"host port twice", `{"portmappings":[{"containerPort":80,"hostPort":8080},{"containerPort":"81-82","hostPort":"8079-8080"}],` + c + `}`, "ports[1]: host port 8080/tcp is already published"},
		{"bad protocol", `{"portmappings":[{"containerPort":80,"hostPort":80,"protocol":"sctp"}],` + c + `}`, `protocol "sctp" is not supported`},
		{"http uri", `{"files":[{"name":"f","uri":"https://example.com/x"}],` + c + `}`, "files[0].uri: https://example.com/x: https URIs are not fetched"},
		{"missing file uri", `{"files":[{"name":"f","uri":"file:///nonexistent/hyper-test"}],` + c + `}`, "files[0].uri: file:///nonexistent/hyper-test: cannot read /nonexistent/hyper-test: no such file"},
		{"relative file uri", `{"files":[{"name":"f","uri":"file://etc/passwd"}],` + c + `}`, "a file URI must name an absolute path"},
		{"directory file uri", `{"files":[{"name":"f","uri":"file:///"}],` + c + `}`, "is not a regular file"},
		{"uri and content", `{"files":[{"name":"f","uri":"file:///x","content":"y"}],` + c + `}`, "files[0]: give either uri or content"},
		{"empty image", `{"containers":[{"name":"a","image":""}]}`, "containers[0].image: empty image"},
		{"missing image", `{"containers":[{"name":"a"}]}`, "containers[0].image: empty image"},
		{"bad restart policy", `{"restartPolicy":"sometimes",` + c + `}`, `restartPolicy: unknown restart policy "sometimes"`},
		{"bad perm", `{"files":[{"name":"f"}],"containers":[{"image":"x","files":[{"filename":"f","path":"/f","perm":"0999"}]}]}`, `containers[0].files[0].perm: bad permission "0999"`},
		{"nas volume", `{"volumes":[{"name":"v","source":"h:/x","format":"nas"}],` + c + `}`, "volumes[0].format: not supported: NFS"},
		{"raw volume", `{"volumes":[{"name":"v","source":"/x.img","format":"raw"}],` + c + `}`, "volumes[0].format: not supported: disk-image"},
		{"duplicate volume", `{"volumes":[{"name":"v"},{"name":"v"}],` + c + `}`, `volumes[1].name: duplicate volume name "v"`},
		{"interfaces", `{"interfaces":[{"bridge":"br0"}],` + c + `}`, "interfaces: not supported"},
		{"bad ulimit", `{"containers":[{"image":"x","ulimits":[{"name":"nofile","soft":10,"hard":5}]}]}`, "containers[0].ulimits[0]: ulimit nofile: soft limit 10 is above the hard limit 5"},
		{"bad hostname", `{"hostname":"-x",` + c + `}`, `hostname: invalid hostname "-x"`},
		{"bad nameserver", `{"dns":["dns.example"],` + c + `}`, `dns[0]: nameserver "dns.example" is not an IP address`},
		{"id and name", `{"id":"a","name":"b",` + c + `}`, "the pod is named twice"},

		{"k8s other kind", "apiVersion: apps/v1\nkind: Deployment\n", `kind: "Deployment" is not supported: only Kubernetes Pods`},
		{"k8s v1beta1", "apiVersion: v1beta1\nkind: Pod\n", `apiVersion: "v1beta1" is not supported`},
		{"k8s no apiVersion", "kind: Pod\n", "apiVersion: missing"},
		{"k8s no spec", "apiVersion: v1\nkind: Pod\n", "spec: missing"},
		{"k8s unknown field", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, commands: [ls]}]\n", "spec.containers[0].commands: unknown field"},
		{"k8s case matters", "apiVersion: v1\nkind: Pod\nspec:\n  Containers: [{name: a, image: x}]\n", "spec.Containers: unknown field"},
		{"k8s undeclared volume", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - {name: a, image: x}\n  - name: b\n    image: x\n    volumeMounts: [{name: data, mountPath: /d}]\n", `spec.containers[1].volumeMounts[0]: volume "data" is not declared`},
		{"k8s duplicate names", "apiVersion: v1\nkind: Pod\nspec:\n  initContainers: [{name: a, image: x}]\n  containers: [{name: a, image: x}]\n", `spec.containers[0].name: duplicate container name "a" (also spec.initContainers[0])`},
		{"k8s unnamed container", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: x}]\n", "spec.containers[0].name: missing"},
		{"k8s negative cpu", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, resources: {limits: {cpu: \"-1\"}}}]\n", "spec.containers[0].resources.limits.cpu: negative resources: -1"},
		{"k8s low memory", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, resources: {limits: {memory: 32Mi}}}]\n", "memory 32 MB in all is below the guest's minimum of 64 MB"},
		{"k8s bad quantity", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, resources: {limits: {memory: 1GB}}}]\n", `spec.containers[0].resources.limits.memory: bad quantity "1GB"`},
		{"k8s gpu", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]\n", `not supported: resource "nvidia.com/gpu"`},
		{"k8s mount over /dev", "apiVersion: v1\nkind: Pod\nspec:\n  volumes: [{name: v, emptyDir: {}}]\n  containers: [{name: a, image: x, volumeMounts: [{name: v, mountPath: /dev/shm}]}]\n", "spec.containers[0].volumeMounts[0].mountPath: mount path \"/dev/shm\" is under /dev"},
		{"k8s volume without source", "apiVersion: v1\nkind: Pod\nspec:\n  volumes: [{name: v}]\n  containers: [{name: a, image: x}]\n", `spec.volumes[0]: volume "v" has no source`},
		{"k8s configMap", "apiVersion: v1\nkind: Pod\nspec:\n  volumes: [{name: v, configMap: {name: c}}]\n  containers: [{name: a, image: x}]\n", "spec.volumes[0].configMap: not supported"},
		{"k8s valueFrom", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, env: [{name: A, valueFrom: {fieldRef: {fieldPath: x}}}]}]\n", "spec.containers[0].env[0].valueFrom: not supported"},
		{"k8s seccomp type", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, securityContext: {seccompProfile: {type: Strict}}}]\n", "spec.containers[0].securityContext.seccompProfile.type: \"Strict\""},
		{"k8s seccomp escaping", "apiVersion: v1\nkind: Pod\nspec:\n  securityContext: {seccompProfile: {type: Localhost, localhostProfile: ../x.json}}\n  containers: [{name: a, image: x}]\n", "spec.securityContext.seccompProfile.localhostProfile: \"../x.json\" is not a path inside"},
		{"k8s seccomp localhost alone", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, securityContext: {seccompProfile: {type: Localhost}}}]\n", "needs a localhostProfile"},
		{"k8s no escalation, privileged", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, securityContext: {privileged: true, allowPrivilegeEscalation: false}}]\n", "allowPrivilegeEscalation: cannot be false for a privileged container"},
		{"k8s no escalation, SYS_ADMIN", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, securityContext: {capabilities: {add: [SYS_ADMIN]}, allowPrivilegeEscalation: false}}]\n", "cannot be false with the capability SYS_ADMIN"},
		{"k8s hostNetwork", "apiVersion: v1\nkind: Pod\nspec:\n  hostNetwork: true\n  containers: [{name: a, image: x}]\n", "spec.hostNetwork: not supported"},
		{"k8s bad restartPolicy", "apiVersion: v1\nkind: Pod\nspec:\n  restartPolicy: Sometimes\n  containers: [{name: a, image: x}]\n", `spec.restartPolicy: unknown restart policy "Sometimes"`},
		{"k8s sidecar", "apiVersion: v1\nkind: Pod\nspec:\n  initContainers: [{name: s, image: x, restartPolicy: Always}]\n  containers: [{name: a, image: x}]\n", "spec.initContainers[0].restartPolicy: not supported: sidecar"},
		{"k8s port out of range", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, ports: [{containerPort: 80, hostPort: 70000}]}]\n", `spec.containers[0].ports[0].hostPort: port "70000" is out of range 1-65535`},
		{"k8s runAsGroup alone", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x, securityContext: {runAsGroup: 5}}]\n", "spec.containers[0].securityContext.runAsGroup: needs runAsUser"},
		{"k8s dnsPolicy None without config", "apiVersion: v1\nkind: Pod\nspec:\n  dnsPolicy: None\n  containers: [{name: a, image: x}]\n", "spec.dnsPolicy: None needs spec.dnsConfig.nameservers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "")
			if err == nil {
				t.Fatalf("want an error with %q, got success", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
		})
	}
}

func TestWarningsOnly(t *testing.T) {
	res, err := Parse([]byte(`{"type":"kvm","log":{"type":"json"},"volumes":[{"name":"v","source":"/x","format":"vfs","fstype":"ext4"}],
	  "interfaces":[],"services":null,"containers":[{"image":"busybox"}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 3 {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range exampleFiles(f) {
		data, err := os.ReadFile(filepath.Join(examplesDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(kubePodYAML))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte(`{"containers":[{"image":"x","ports":[{"containerPort":"1-2","hostPort":"3-4"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse(data, "fuzz")
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if len(res.Spec.Containers) == 0 {
			t.Fatal("success without containers")
		}
	})
}

const kubeSecurityYAML = `
apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: Localhost, localhostProfile: profiles/audit.json}
  containers:
  - name: a
    image: busybox
    securityContext:
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
      allowPrivilegeEscalation: false
      runAsUser: 1000
  - name: b
    image: busybox
    securityContext:
      privileged: true
      runAsNonRoot: false
      seccompProfile: {type: Unconfined}
  - name: c
    image: busybox
    securityContext:
      seccompProfile: {type: RuntimeDefault}
      allowPrivilegeEscalation: true
`

func TestKubernetesSecurityContext(t *testing.T) {
	res, err := Parse([]byte(kubeSecurityYAML), "pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q", res.Warnings)
	}
	cs := res.Spec.Containers
	want := []types.ContainerSpec{
		{Name: "a", Image: "busybox", User: "1000", RunAsNonRoot: true, CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges", "seccomp=localhost/profiles/audit.json"}},
		{Name: "b", Image: "busybox", Privileged: true, SecurityOpt: []string{"seccomp=unconfined"}},
		{Name: "c", Image: "busybox", RunAsNonRoot: true},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("containers\n%+v\nwant\n%+v", cs, want)
	}
}

func TestHyperSecurity(t *testing.T) {
	res, err := Parse([]byte(`{"containers":[{"name":"a","image":"busybox","capAdd":["SYS_TIME"],"capDrop":["chown"],
		"privileged":true,"securityOpt":["no-new-privileges","seccomp=unconfined"],"readOnly":true}]}`), "pod.json")
	if err != nil {
		t.Fatal(err)
	}
	want := types.ContainerSpec{Name: "a", Image: "busybox", CapAdd: []string{"SYS_TIME"}, CapDrop: []string{"chown"}, Privileged: true,
		SecurityOpt: []string{"no-new-privileges", "seccomp=unconfined"}, ReadOnlyRootfs: true}
	if c := res.Spec.Containers[0]; !reflect.DeepEqual(c, want) {
		t.Errorf("container\n%+v\nwant\n%+v", c, want)
	}
}
