#!/usr/bin/env bash
# Hyper's main job end to end: start hyperd, load a busybox image made
# locally from Debian's busybox-static, run a pod that prints, stop hyperd.
# Uses a private state dir so it never touches an installed hyperd.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/out
demo=$(mktemp -d /tmp/hyper-demo.XXXXXX)
hyperctl() { "$out/hyperctl" -H "unix://$demo/hyper.sock" "$@"; }
cleanup() {
  hyperctl ps -a -q 2>/dev/null | xargs -r "$out/hyperctl" -H "unix://$demo/hyper.sock" rm -f >/dev/null 2>&1 || true
  [ -n "${hyperd_pid:-}" ] && kill "$hyperd_pid" 2>/dev/null && wait "$hyperd_pid" 2>/dev/null
  rm -rf "$demo"
}
trap cleanup EXIT

"$out/hyperd" --config /dev/null --root "$demo/root" --run-dir "$demo/run" --socket "$demo/hyper.sock" \
  --kernel "$out/vmlinux" --initrd "$out/initrd.img" 2>"$demo/hyperd.log" &
hyperd_pid=$!
for _ in $(seq 100); do [ -S "$demo/hyper.sock" ] && break; sleep 0.1; done
[ -S "$demo/hyper.sock" ] || { cat "$demo/hyperd.log"; exit 1; }

"$out/hyperdev" busybox-image -o "$demo/busybox.tar"
hyperctl load -i "$demo/busybox.tar"
hyperctl info | grep -iE 'accel|hypervisor' || true
echo "+ hyperctl run --rm busybox sh -c '...'"
time hyperctl run --rm busybox sh -c 'echo "Hello from a Hyper pod: $(uname -sr), hostname $(hostname), pid $$"'
