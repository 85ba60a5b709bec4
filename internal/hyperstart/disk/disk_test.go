package disk

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFindBySerial(t *testing.T) {
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	for name, serial := range map[string]string{"vda": "scratch\n", "vdb": "img0", "vdc": ""} {
		os.MkdirAll(filepath.Join(sys, name), 0o755)
		os.WriteFile(filepath.Join(sys, name, "serial"), []byte(serial), 0o644)
	}
	os.MkdirAll(dev, 0o755)
	os.WriteFile(filepath.Join(dev, "vdb"), nil, 0o644)
	got, err := FindBySerial(sys, dev, "img0", time.Second)
	if err != nil || got != filepath.Join(dev, "vdb") {
		t.Fatalf("got %q %v", got, err)
	}
	// vda has no device node yet: wait for it.
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(filepath.Join(dev, "vda"), nil, 0o644)
	}()
	if got, err := FindBySerial(sys, dev, "scratch", 5*time.Second); err != nil || got != filepath.Join(dev, "vda") {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := FindBySerial(sys, dev, "missing", 50*time.Millisecond); err == nil {
		t.Fatal("missing disk found")
	}
}

func TestFindSCSIBySerial(t *testing.T) {
	root := t.TempDir()
	sys, dev := filepath.Join(root, "block"), filepath.Join(root, "dev")
	host := filepath.Join(root, "class", "scsi_host", "host0")
	os.MkdirAll(host, 0o755)
	os.MkdirAll(dev, 0o755)
	os.WriteFile(filepath.Join(host, "scan"), nil, 0o644)
	// The disk appears only once target 0 has been scanned.
	go func() {
		for {
			b, _ := os.ReadFile(filepath.Join(host, "scan"))
			if string(b) == "0 0 -" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		os.MkdirAll(filepath.Join(sys, "sda", "device"), 0o755)
		os.WriteFile(filepath.Join(sys, "sda", "device", "vpd_pg80"), append([]byte{0, 0x80, 0, 4}, "img1"...), 0o644)
		os.WriteFile(filepath.Join(dev, "sda"), nil, 0o644)
	}()
	got, err := FindBySerial(sys, dev, "img1", 5*time.Second)
	if err != nil || got != filepath.Join(dev, "sda") {
		t.Fatalf("got %q %v", got, err)
	}
}

func FuzzDiskSerial(f *testing.F) {
	f.Add([]byte{0, 0x80, 0, 4, 'i', 'm', 'g', '0'})
	f.Add([]byte{0, 0x80, 0xff, 0xff})
	f.Add([]byte{0, 0x83})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := filepath.Join(t.TempDir(), "sda")
		os.MkdirAll(filepath.Join(dir, "device"), 0o755)
		os.WriteFile(filepath.Join(dir, "device", "vpd_pg80"), b, 0o644)
		diskSerial(dir)
	})
}
