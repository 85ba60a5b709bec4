package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/protocol"
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

// bootSerials lists the pod's distinct images, init containers' first,
// and maps each to its disk's serial.
func bootSerials(rec record) (ids []string, serials map[string]string) {
	ids = distinctImages(rec.InitContainers, rec.Containers)
	serials = map[string]string{}
	for _, id := range ids {
		serials[id] = imageSerial(id)
	}
	return ids, serials
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

// guestContainer is what the guest is told to create for container name
// of spec cs in pod rec, whose image disk has serial: its root, its
// volumes and its files.
func guestContainer(rec record, name string, cs types.ContainerSpec, serial string) protocol.ContainerSpec {
	return protocol.ContainerSpec{ID: name, Rootfs: protocol.RootfsSpec{DiskSerial: serial, ReadOnly: cs.ReadOnlyRootfs},
		Mounts: containerMounts(rec, cs), Files: containerFiles(rec.Spec.Files, cs)}
}
