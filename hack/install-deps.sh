#!/usr/bin/env bash
# Installs what Hyper needs to build, run and test on Debian 12. Idempotent:
# packages already present are not fetched again.
set -euo pipefail

# The unprivileged user every jailed QEMU runs as (docs/adr/0012-qemu-jail.md):
# a system user with no home and no shell, in the kvm group where there is
# one (/dev/kvm). hyperd's [jail] user; it refuses to start without it.
# `install-deps.sh --user` does only this (make install).
create_user() {
  local u=hyper-qemu
  if ! getent passwd "$u" >/dev/null; then
    echo "creating system user $u" >&2
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
  fi
  if getent group kvm >/dev/null && ! id -nG "$u" | grep -qw kvm; then
    usermod -a -G kvm "$u"
  fi
}
if [[ "${1:-}" == --user ]]; then
  create_user
  exit 0
fi
pkgs=(
  qemu-system-x86                          # the hypervisor (microvm, TCG/KVM)
  linux-source-6.1 build-essential flex bison bc libelf-dev libssl-dev  # hyperkernel
  busybox-static                           # test and demo images, boot floor
  erofs-utils e2fsprogs                    # test images; scratch disks
  docker-registry                          # registry for the pull tests (run by the tests, not as a service)
  skopeo umoci                             # the pipeline BenchmarkPullConvert compares pulls with
  debootstrap                              # the Debian (nginx) image of the e2e tests
  iproute2 nftables                        # bridge-mode tests: ip netns, ip link, nft list ruleset
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Members of "hyper" may use hyperd's socket: full control of hyperd, root's equal.
getent group hyper >/dev/null || groupadd --system hyper
command -v go >/dev/null || { echo "Go is required (https://go.dev/doc/install); /usr/local/go/bin must be on PATH" >&2; exit 1; }
create_user
