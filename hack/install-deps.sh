#!/usr/bin/env bash
# Installs what Hyper needs to build, run and test on Debian 12. Idempotent:
# packages already present are not fetched again.
set -euo pipefail

# The accounts hyperd needs (docs/security.md). `install-deps.sh --user`
# creates only these (make install).
# - group "hyper": its members may use hyperd's socket, which is full
#   control of hyperd, root's equal;
# - user "hyper-qemu", which every jailed QEMU runs as (ADR 0012): a system
#   user with no home and no shell, in the kvm group where there is one
#   (/dev/kvm); hyperd's [jail] user, without which it refuses to start.
create_accounts() {
  getent group hyper >/dev/null || groupadd --system hyper
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
  create_accounts
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
command -v go >/dev/null || { echo "Go is required (https://go.dev/doc/install); /usr/local/go/bin must be on PATH" >&2; exit 1; }
create_accounts
