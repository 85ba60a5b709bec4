package cli

import (
	"reflect"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
)

func TestParsePortSpec(t *testing.T) {
	ok := map[string]types.PortMapping{
		"8080:80":                     {HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		"127.0.0.1:18080:80":          {HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80, Protocol: "tcp"},
		"5353:53/udp":                 {HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
		"8080-8082:80-82":             {HostPort: 8080, ContainerPort: 80, Protocol: "tcp", Count: 3},
		"0.0.0.0:9000-9001:90-91/TCP": {HostIP: "0.0.0.0", HostPort: 9000, ContainerPort: 90, Protocol: "tcp", Count: 2},
	}
	for s, want := range ok {
		got, err := parsePortSpec(s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parsePortSpec(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if !looksLikePortSpec(s) {
			t.Errorf("looksLikePortSpec(%q) = false", s)
		}
	}
	for _, s := range []string{"80", "8080", ":80", "8080:", "0:80", "8080:70000", "8080-8082:80", "8082-8080:80-82",
		"1.2.3:8080:80", "::1:8080:80", "8080:80/sctp", "a:b"} {
		if _, err := parsePortSpec(s); err == nil {
			t.Errorf("parsePortSpec(%q) accepted", s)
		}
	}
	for _, f := range []string{"pod.yaml", "./web.json", "/tmp/x:y.yaml", "80"} {
		if looksLikePortSpec(f) {
			t.Errorf("looksLikePortSpec(%q) = true", f)
		}
	}
}

func TestApplyNetwork(t *testing.T) {
	o := &runOptions{}
	v := publishOrPod{o}
	for _, s := range []string{"8080:80", "pod.yaml", "9000-9001:90-91/udp"} {
		if err := v.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if o.podFile != "pod.yaml" || len(o.publish) != 2 {
		t.Fatalf("podFile %q, publish %q", o.podFile, o.publish)
	}
	if err := v.Set("other.yaml"); err == nil {
		t.Error("a second pod file accepted")
	}
	o.network, o.dns, o.dnsSearch, o.dnsOptions = "none", []string{"1.1.1.1"}, []string{"example.com"}, []string{"ndots:2"}
	var spec types.PodSpec
	if err := o.applyNetwork(&spec); err != nil {
		t.Fatal(err)
	}
	if spec.Network != "none" || len(spec.Ports) != 2 || spec.Ports[1].Count != 2 || spec.Ports[1].Protocol != "udp" ||
		!reflect.DeepEqual(spec.DNS, &types.DNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"example.com"}, Options: []string{"ndots:2"}}) {
		t.Fatalf("spec = %+v", spec)
	}
	for _, bad := range []runOptions{{network: "host"}, {dns: []string{"dns.example"}}, {publish: []string{"x:80"}}} {
		if err := bad.applyNetwork(&types.PodSpec{}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestFormatPorts(t *testing.T) {
	got := formatPorts([]types.PortBinding{{ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 8080}})
	if !reflect.DeepEqual(got, []string{"80/tcp -> 0.0.0.0:8080"}) {
		t.Fatal(got)
	}
}
