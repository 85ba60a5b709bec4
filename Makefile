# Hyper build. `make demo` and `make check` are the two README commands.
export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
OUT     := out
KERNEL   = $(shell bash hack/kernel/build.sh --print-path)

.PHONY: all deps kernel build initrd demo test check bench clean

all: build initrd

deps:
	bash hack/install-deps.sh

# Builds hyperkernel once per source version and config (cached outside the
# checkout, see docs/kernel.md) and links it as out/vmlinux.
kernel:
	@mkdir -p $(OUT)
	bash hack/kernel/build.sh >/dev/null
	ln -sf $(KERNEL) $(OUT)/vmlinux

build:
	@mkdir -p $(OUT)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(OUT)/hyperstart ./cmd/hyperstart
	$(GO) build -o $(OUT)/hyperdev ./cmd/hyperdev

initrd: build
	$(OUT)/hyperdev initrd -o $(OUT)/initrd.img $(OUT)/hyperstart

# The main job end to end: a real pod in a real VM.
demo: deps kernel initrd
	$(OUT)/hyperdev run --kernel $(OUT)/vmlinux --initrd $(OUT)/initrd.img -- \
		sh -c 'echo "Hello from a Hyper pod: $$(uname -sr), hostname $$(hostname)"'

test: kernel
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

check: deps test

bench: deps kernel
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/vm/

clean:
	rm -rf $(OUT)
