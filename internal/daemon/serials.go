package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
)

// imageSerial is the serial of image id's disk in a pod's VM: "i-" and the
// first 18 hex digits of the image's digest (20 bytes, the most a serial
// may have). It depends on the image alone, so adding or removing another
// container never renames a disk the guest has mounted (ADR 0007).
func imageSerial(id string) string {
	hexID, ok := strings.CutPrefix(id, "sha256:")
	if !ok || len(hexID) < 18 || !isLowerHex(hexID) {
		sum := sha256.Sum256([]byte(id))
		hexID = hex.EncodeToString(sum[:])
	}
	return "i-" + hexID[:18]
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// runSerials maps the image IDs of the pod's current run to the serials
// of their disks in its VM. A record written by an older hyperd has no
// Serials: its VM numbered the disks img0, img1... in boot order, one per
// distinct image, init containers' first, and containers were never added
// to it, so the numbering is found again from the record.
func runSerials(rec record) map[string]string {
	if rec.Serials != nil {
		return rec.Serials
	}
	serials := map[string]string{}
	for i, id := range distinctImages(rec.InitContainers, rec.Containers) {
		serials[id] = fmt.Sprintf("img%d", i)
	}
	return serials
}

// distinctImages lists the distinct image IDs of containers.
func distinctImages(lists ...[]types.Container) []string {
	var ids []string
	for _, cs := range lists {
		for _, c := range cs {
			if !slices.Contains(ids, c.ImageID) {
				ids = append(ids, c.ImageID)
			}
		}
	}
	return ids
}
