# Hyper build. `make demo` and `make check` are the two README commands.
export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
OUT     := out
KERNEL   = $(shell bash hack/kernel/build.sh --print-path)
# The VM's own tools (hyperctl exec --vm): busybox-static, from `make deps`.
BUSYBOX ?= /bin/busybox

.PHONY: all deps kernel build initrd demo install uninstall test check bench clean

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
	$(GO) build -o $(OUT)/hyperd ./cmd/hyperd
	$(GO) build -o $(OUT)/hyperctl ./cmd/hyperctl
	$(GO) build -o $(OUT)/hyperdev ./cmd/hyperdev

initrd: build
	$(OUT)/hyperdev initrd -o $(OUT)/initrd.img -busybox $(BUSYBOX) $(OUT)/hyperstart

# The main job end to end: hyperd, an image, `hyperctl run`, a real VM.
demo: deps kernel initrd
	bash hack/demo.sh

# Installs the binaries, kernel and initramfs where hyperd looks by default.
install: kernel initrd
	bash hack/install-deps.sh --user
	install -d /usr/local/lib/hyper
	install -m 0644 $(KERNEL) /usr/local/lib/hyper/vmlinux
	install -m 0644 $(OUT)/initrd.img /usr/local/lib/hyper/initrd.img
	install -m 0755 $(OUT)/hyperd $(OUT)/hyperctl /usr/local/bin/

uninstall:
	rm -rf /usr/local/lib/hyper /usr/local/bin/hyperd /usr/local/bin/hyperctl

test: kernel
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

check: deps test

# BENCH_BASE=REV also measures REV's hyperd in BenchmarkRun, interleaved
# with this one (built from `git archive REV` under out/base-src).
bench: deps kernel
ifneq ($(BENCH_BASE),)
	rm -rf $(OUT)/base-src && mkdir -p $(OUT)/base-src
	git archive $(BENCH_BASE) | tar -x -C $(OUT)/base-src
	cd $(OUT)/base-src && $(GO) build -o $(abspath $(OUT))/hyperd-base ./cmd/hyperd
endif
	HYPER_BENCH_BASE=$(if $(BENCH_BASE),$(abspath $(OUT))/hyperd-base) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/vm/ ./internal/e2e/ ./internal/image/

clean:
	rm -rf $(OUT)
