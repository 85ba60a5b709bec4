package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/cobra"
)

func TestSecurityFlags(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(profile, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &runOptions{}
	cmd := &cobra.Command{Use: "run"}
	addRunFlags(cmd, o)
	args := []string{"--cap-add", "sys_admin,NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--read-only", "-u", "1000",
		"--security-opt", "no-new-privileges", "--security-opt", "seccomp=" + profile,
		"--security-opt", "seccomp=localhost/a.json", "--security-opt", "apparmor=unconfined", "busybox", "id"}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	spec, err := o.podSpec("busybox", []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	c := spec.Containers[0]
	if !reflect.DeepEqual(c.CapAdd, []string{"sys_admin", "NET_ADMIN"}) || !reflect.DeepEqual(c.CapDrop, []string{"ALL"}) ||
		!c.Privileged || !c.ReadOnlyRootfs || c.User != "1000" ||
		!reflect.DeepEqual(c.SecurityOpt, []string{"no-new-privileges", `seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`,
			"seccomp=localhost/a.json", "apparmor=unconfined"}) {
		t.Errorf("container %+v", c)
	}

	o = &runOptions{}
	cmd = &cobra.Command{Use: "run"}
	addRunFlags(cmd, o)
	if err := cmd.ParseFlags([]string{"--security-opt", "seccomp=/no/such/file", "busybox"}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.podSpec("busybox", nil); err == nil {
		t.Error("a missing profile file: no error")
	}
	o.podFile = profile
	if _, err := o.fileSpec(nil); err == nil {
		t.Error("security flags and a pod file: no error")
	}
}
