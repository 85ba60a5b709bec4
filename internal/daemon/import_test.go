package daemon

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChange(t *testing.T) {
	var cfg v1.Config
	for _, c := range []string{`CMD ["cat", "/x"]`, "ENTRYPOINT echo hi", "ENV A=b", "WORKDIR /w", "USER 1000", "LABEL k=v", "EXPOSE 80", "stopsignal SIGINT"} {
		if err := applyChange(&cfg, c); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
	}
	if !slices.Equal(cfg.Cmd, []string{"cat", "/x"}) || !slices.Equal(cfg.Entrypoint, []string{"/bin/sh", "-c", "echo hi"}) ||
		!slices.Equal(cfg.Env, []string{"A=b"}) || cfg.WorkingDir != "/w" || cfg.User != "1000" || cfg.Labels["k"] != "v" ||
		len(cfg.ExposedPorts) != 1 || cfg.StopSignal != "SIGINT" {
		t.Errorf("config %+v", cfg)
	}
	for _, c := range []string{"RUN make", "ENV novalue", "CMD", "FROM x"} {
		if err := applyChange(&cfg, c); err == nil {
			t.Errorf("%q: no error", c)
		}
	}
}
