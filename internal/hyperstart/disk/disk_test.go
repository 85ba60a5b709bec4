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
