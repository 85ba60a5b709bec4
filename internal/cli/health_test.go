package cli

import (
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

func TestHealthFlags(t *testing.T) {
	if hc, err := (&healthFlags{}).config(); hc != nil || err != nil {
		t.Errorf("no flags: %+v %v", hc, err)
	}
	hc, err := (&healthFlags{cmd: "curl -f localhost", interval: time.Second, retries: 2}).config()
	if err != nil || hc.Test[0] != "CMD-SHELL" || hc.Test[1] != "curl -f localhost" || hc.Interval != time.Second || hc.Retries != 2 {
		t.Errorf("config: %+v %v", hc, err)
	}
	if hc, err := (&healthFlags{none: true}).config(); err != nil || hc.Test[0] != "NONE" {
		t.Errorf("--no-healthcheck: %+v %v", hc, err)
	}
	for _, bad := range []healthFlags{{none: true, cmd: "x"}, {interval: time.Second}, {cmd: "x", retries: -1}} {
		if _, err := bad.config(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	p := types.Pod{Containers: []types.Container{{}, {Health: &types.Health{Status: types.HealthStarting}}}}
	if s := healthSuffix(p); s != " (health: starting)" {
		t.Errorf("suffix %q", s)
	}
	p.Containers[1].Health.Status = types.HealthHealthy
	if s := healthSuffix(p); s != " (healthy)" || podHealth(p).Status != "healthy" {
		t.Errorf("suffix %q", s)
	}
}
