#!/usr/bin/env bash
# Installs what Hyper needs to build, run and test on Debian 12. Idempotent:
# packages already present are not fetched again.
set -euo pipefail
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
