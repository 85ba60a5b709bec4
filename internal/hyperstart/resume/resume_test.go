package resume

import (
	"testing"

	"github.com/hyperhq/hyper/internal/protocol"
)

func TestCheck(t *testing.T) {
	ok := protocol.ResumeRequest{WallNanos: 1, Entropy: make([]byte, protocol.MinEntropy),
		MACs: []protocol.MACChange{{From: "02:00:00:00:00:01", To: "02:aa:bb:cc:dd:ee"}}}
	if err := Check(ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*protocol.ResumeRequest){
		"no clock":      func(r *protocol.ResumeRequest) { r.WallNanos = 0 },
		"little":        func(r *protocol.ResumeRequest) { r.Entropy = r.Entropy[:protocol.MinEntropy-1] },
		"much":          func(r *protocol.ResumeRequest) { r.Entropy = make([]byte, protocol.MaxEntropy+1) },
		"bad mac":       func(r *protocol.ResumeRequest) { r.MACs[0].To = "02:00" },
		"multicast mac": func(r *protocol.ResumeRequest) { r.MACs[0].To = "01:00:5e:00:00:01" },
		"many macs": func(r *protocol.ResumeRequest) {
			r.MACs = []protocol.MACChange{}
			for range maxMACs + 1 {
				r.MACs = append(r.MACs, ok.MACs[0])
			}
		},
	} {
		r := ok
		r.MACs = append([]protocol.MACChange(nil), ok.MACs...)
		mod(&r)
		if err := Check(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
