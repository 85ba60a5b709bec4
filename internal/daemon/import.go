package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// maxImport bounds an imported tarball.
const maxImport = 16 << 30

// Import implements api.Images: a tarball (plain or gzip) becomes a
// one-layer image named repo, with the config changes applied, loaded
// through the store's Load (which checks the layer as any other).
func (i Images) Import(ctx context.Context, r io.Reader, repo, message string, changes []string) ([]types.Image, error) {
	if repo == "" {
		return nil, errdefs.InvalidArgument("import needs a REPO[:TAG] to name the image")
	}
	tag, err := name.NewTag(repo)
	if err != nil {
		return nil, errdefs.InvalidArgument("image name %q: %v", repo, err)
	}
	var cfg v1.Config
	for _, c := range changes {
		if err := applyChange(&cfg, c); err != nil {
			return nil, err
		}
	}
	file, err := i.spoolTemp(r, maxImport, "import")
	if err != nil {
		return nil, err
	}
	defer os.Remove(file)
	layer, err := tarball.LayerFromFile(file)
	if err != nil {
		return nil, errdefs.InvalidArgument("import tarball: %v", err)
	}
	now := time.Now().UTC()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: now}, CreatedBy: "hyperctl import", Comment: message}})
	if err != nil {
		return nil, errdefs.InvalidArgument("import tarball: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, errdefs.InvalidArgument("import tarball: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created, cf.Config = "linux", runtime.GOARCH, v1.Time{Time: now}, cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return i.loadBuilt(ctx, tag, img)
}

// loadBuilt loads img, built here, named tag, through the store's Load.
func (i Images) loadBuilt(ctx context.Context, tag name.Tag, img v1.Image) ([]types.Image, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	ims, err := i.Load(ctx, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	return ims, err
}

// spoolTemp copies r (at most max bytes) into a new temporary file of
// the image store's directory; the caller removes it.
func (i Images) spoolTemp(r io.Reader, max int64, what string) (string, error) {
	f, err := os.CreateTemp(filepath.Join(i.d.cfg.Root, "images"), what+"-*.tar")
	if err != nil {
		return "", fmt.Errorf("spooling %s: %w", what, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = errdefs.InvalidArgument("%s larger than %d bytes", what, max)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("spooling %s: %w", what, err)
	}
	return f.Name(), nil
}

// applyChange applies one Dockerfile-like instruction of import's
// --change: CMD, ENTRYPOINT (JSON array or shell form), ENV, WORKDIR,
// USER, LABEL, EXPOSE, STOPSIGNAL.
func applyChange(cfg *v1.Config, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	bad := func(why string) error {
		return errdefs.InvalidArgument("--change %q: %s", change, why)
	}
	if arg == "" {
		return bad("no argument")
	}
	cmd := func() []string {
		var args []string
		if strings.HasPrefix(arg, "[") && json.Unmarshal([]byte(arg), &args) == nil {
			return args
		}
		return []string{"/bin/sh", "-c", arg}
	}
	keyValue := func() (string, string, error) {
		k, v, ok := strings.Cut(arg, "=")
		if !ok || k == "" {
			return "", "", bad("want KEY=VALUE")
		}
		return k, strings.Trim(v, `"`), nil
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		cfg.Cmd = cmd()
	case "ENTRYPOINT":
		cfg.Entrypoint = cmd()
	case "ENV":
		k, v, err := keyValue()
		if err != nil {
			return err
		}
		cfg.Env = append(cfg.Env, k+"="+v)
	case "LABEL":
		k, v, err := keyValue()
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	case "WORKDIR":
		cfg.WorkingDir = arg
	case "USER":
		cfg.User = arg
	case "STOPSIGNAL":
		cfg.StopSignal = arg
	case "EXPOSE":
		if !strings.Contains(arg, "/") {
			arg += "/tcp"
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[arg] = struct{}{}
	default:
		return bad("supported: CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL")
	}
	return nil
}
