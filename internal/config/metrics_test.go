package config

import (
	"errors"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestMetricsAddress(t *testing.T) {
	c, err := Parse("[metrics]\naddress = \"127.0.0.1:9323\"\n")
	if err != nil || c.Metrics.Address != "127.0.0.1:9323" {
		t.Fatalf("%+v %v", c.Metrics, err)
	}
	if c, err := Parse(""); err != nil || c.Metrics.Address != "" {
		t.Fatalf("default: %+v %v", c.Metrics, err)
	}
	for _, text := range []string{"[metrics]\naddress = \"9323\"", "[metrics]\naddress = \"localhost:\""} {
		if _, err := Parse(text); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", text, err)
		}
	}
}
