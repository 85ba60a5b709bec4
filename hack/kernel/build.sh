#!/usr/bin/env bash
# Build "hyperkernel", the minimal guest kernel for Hyper micro-VMs, from
# Debian's linux-source-6.1 tarball and the config fragment next to this
# script.
#
# Usage:
#   hack/kernel/build.sh               build (if not cached); the LAST line
#                                      of stdout is the absolute vmlinux path
#   hack/kernel/build.sh --print-path  print where the cached vmlinux is/would
#                                      be, without building
#
# Result (outside the checkout):
#   ${HYPER_CACHE:-/var/cache/hyper}/kernel/<source-version>-<key>/
#       vmlinux   uncompressed, stripped ELF with the PVH note (QEMU -kernel)
#       config    the resolved .config
# where <source-version> is the Debian version of the source package (e.g.
# 6.1.192-2) and <key> the first 16 hex digits of sha256(fragment + build.sh).
# A cached vmlinux is never rebuilt; changing either file gives a new key.
#
# Environment:
#   HYPER_CACHE           cache root (default /var/cache/hyper)
#   HYPER_KERNEL_SOURCE   kernel source tarball
#                         (default /usr/src/linux-source-6.1.tar.xz,
#                          from `apt-get install linux-source-6.1`)
#   HYPER_KERNEL_JOBS     make -j value (default: nproc)
#   HYPER_KERNEL_VERBOSE  1 = stream the build output to stderr
#
# Needs: make gcc flex bison bc perl libelf-dev (objtool) xz-utils binutils.
set -euo pipefail

# Everything runs inside main(), so bash has parsed the whole script before
# it starts: editing this file during a build cannot break that build.
main() {
  local here fragment self src_tar cache_root jobs
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  fragment=$here/hyperkernel.config
  self=$here/build.sh
  src_tar=${HYPER_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
  cache_root=${HYPER_CACHE:-/var/cache/hyper}/kernel
  jobs=${HYPER_KERNEL_JOBS:-$(nproc 2>/dev/null || echo 2)}

  local print_only=0
  case "${1:-}" in
    "") ;;
    --print-path) print_only=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac

  [ -r "$fragment" ] || die "missing $fragment"
  [ -r "$src_tar" ] || die "kernel source $src_tar not found (apt-get install linux-source-6.1, or set HYPER_KERNEL_SOURCE)"
  src_tar=$(readlink -f "$src_tar")

  # <source-version>: the Debian package version of the tarball when dpkg
  # knows it (e.g. 6.1.192-2), else the tarball's name plus a digest of it.
  local src_version="" pkg=""
  if command -v dpkg-query >/dev/null 2>&1; then
    pkg=$(dpkg-query -S "$src_tar" 2>/dev/null | head -n1 | cut -d: -f1 || true)
    if [ -n "$pkg" ]; then
      src_version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
    fi
  fi
  if [ -z "$src_version" ]; then
    src_version="$(basename "$src_tar" | sed 's/\.tar\..*$//')-$(sha256sum "$src_tar" | cut -c1-12)"
  fi
  src_version=$(printf '%s' "$src_version" | tr -c 'A-Za-z0-9._+-' '_')

  local key outdir vmlinux
  key=$(cat "$fragment" "$self" | sha256sum | cut -c1-16)
  outdir=$cache_root/$src_version-$key
  vmlinux=$outdir/vmlinux

  if [ "$print_only" = 1 ] || [ -f "$vmlinux" ]; then
    echo "$vmlinux"
    exit 0
  fi

  local tool
  for tool in make gcc flex bison bc perl tar xz strip readelf; do
    command -v "$tool" >/dev/null 2>&1 || die "missing build tool: $tool"
  done

  mkdir -p "$cache_root"

  # Serialise concurrent builds of the same kernel; re-check after the lock.
  local lock=$cache_root/.lock-$src_version-$key
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock 9
    if [ -f "$vmlinux" ]; then
      echo "$vmlinux"
      exit 0
    fi
    # Leftovers of an interrupted build of this key (we hold its lock).
    rm -rf "$cache_root/.build-$key."*
  fi

  tmp=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT TERM HUP
  buildlog=$tmp/build.log

  local start
  start=$(date +%s)
  log "building $outdir"
  log "unpacking $src_tar"
  mkdir -p "$tmp/src"
  tar -xf "$src_tar" -C "$tmp/src" --strip-components=1 || fail "unpacking $src_tar failed"

  local src=$tmp/src
  export KBUILD_BUILD_USER=hyper KBUILD_BUILD_HOST=hyper
  local mk=(make -C "$src" ARCH=x86_64)

  log "configuring (allnoconfig + $(basename "$fragment"))"
  run "${mk[@]}" KCONFIG_ALLCONFIG="$fragment" allnoconfig || fail "configuration failed"

  # Every CONFIG_X=y (and every other CONFIG_X=value) of the fragment must
  # survive dependency resolution: allnoconfig silently drops options whose
  # dependencies are not met.
  local missing=() line m sym
  while IFS= read -r line; do
    grep -qxF -- "$line" "$src/.config" || missing+=("$line")
  done < <(grep -E '^CONFIG_[A-Za-z0-9_]+=' "$fragment" | sed 's/[[:space:]]*$//')
  if [ "${#missing[@]}" -gt 0 ]; then
    for m in "${missing[@]}"; do
      sym=${m%%=*}
      log "  wanted $m, got: $(grep -E "^(# )?$sym[= ]" "$src/.config" || echo 'nothing (unknown symbol or unmet dependency)')"
    done
    die "${#missing[@]} option(s) of $(basename "$fragment") were dropped or changed: ${missing[*]%%=*}"
  fi
  grep -q '^# CONFIG_MODULES is not set' "$src/.config" || die "CONFIG_MODULES must stay off"

  log "compiling vmlinux with -j$jobs (log: $buildlog)"
  run "${mk[@]}" -j"$jobs" vmlinux || fail "kernel build failed"

  mkdir -p "$tmp/out"
  # Drop the symbol table (kallsyms is built in); the PT_NOTE with the PVH
  # entry point (XEN_ELFNOTE_PHYS32_ENTRY, type 0x12) is allocated and stays.
  strip --strip-all -o "$tmp/out/vmlinux" "$src/vmlinux" || fail "strip failed"
  readelf -n "$tmp/out/vmlinux" 2>/dev/null | grep -q 'Xen.*0x00000012' \
    || die "stripped vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"
  cp "$src/.config" "$tmp/out/config"

  # Publish atomically: rename the finished directory into place.
  if ! mv -T "$tmp/out" "$outdir" 2>/dev/null; then
    [ -f "$vmlinux" ] || die "could not move the result to $outdir"
  fi
  log "done in $(( $(date +%s) - start ))s: $(du -k "$vmlinux" | cut -f1) KiB on disk"
  echo "$vmlinux"
}

tmp=""
buildlog=/dev/null

log() { printf 'hyperkernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# run CMD...: progress output goes to the build log (or stderr if verbose).
run() {
  if [ "${HYPER_KERNEL_VERBOSE:-0}" = 1 ]; then
    "$@" >&2
  else
    "$@" >>"$buildlog" 2>&1
  fi
}

# fail MSG: like die, but show the end of the build log and keep a copy.
fail() {
  if [ "${HYPER_KERNEL_VERBOSE:-0}" != 1 ] && [ -s "$buildlog" ]; then
    local keep
    keep=$(dirname "$tmp")/last-failed-build.log
    cp "$buildlog" "$keep" 2>/dev/null || true
    tail -n 40 "$buildlog" >&2 || true
    log "full log: $keep"
  fi
  die "$*"
}

main "$@"
