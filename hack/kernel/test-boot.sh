#!/usr/bin/env bash
# Boot hyperkernel under QEMU (TCG, microvm) with a busybox-static initramfs
# and check the features Hyper needs from inside the guest.
#
# Usage: hack/kernel/test-boot.sh [path/to/vmlinux]
#   (default: the kernel hack/kernel/build.sh builds or has cached)
#
# Environment:
#   QEMU          qemu binary (default qemu-system-x86_64)
#   SMP           vCPUs (default 2)
#   CPU           -cpu model (default max,vendor=GenuineIntel: see docs/kernel.md)
#   MMIO_LEGACY   1 = legacy virtio-mmio (QEMU's microvm default), 0 = modern (default)
#   TSC_KHZ       host TSC frequency in kHz, passed as tsc_early_khz= (default:
#                 from the host's dmesg; "none" to leave it out)
#   APPEND        kernel command line (default: the recommended TCG one)
#   KEEP=1        keep the work directory
#
# Needs: qemu-system-x86 (>= 7.2, microvm), busybox-static, cpio,
#        erofs-utils (mkfs.erofs), e2fsprogs (mkfs.ext4), python3.
# Always uses TCG: it must not depend on KVM being usable.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
qemu=${QEMU:-qemu-system-x86_64}
smp=${SMP:-2}
cpu=${CPU:-max,vendor=GenuineIntel}
mmio_legacy=${MMIO_LEGACY:-0}
# Under TCG the guest TSC ticks at the host TSC rate; telling the guest that
# rate avoids the PIT-based TSC calibration, which fails now and then on a
# loaded host (the TSC is then marked unstable and timekeeping drops to
# jiffies).
host_tsc_khz() {
  local mhz
  mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\.[0-9]*\) MHz.*/\1/p' | tail -n1)
  [ -n "$mhz" ] || mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9]*\.[0-9]*\) MHz processor.*/\1/p' | tail -n1)
  [ -z "$mhz" ] || awk -v m="$mhz" 'BEGIN { printf "%d", m * 1000 }'
}
tsc_khz=${TSC_KHZ:-$(host_tsc_khz)}
[ "$tsc_khz" = none ] && tsc_khz=""
append=${APPEND:-console=ttyS0 reboot=t panic=-1 quiet no_timer_check tsc=reliable noreplace-smp nolapic_timer${tsc_khz:+ tsc_early_khz=$tsc_khz}}
busybox=${BUSYBOX:-/bin/busybox}

kernel=${1:-}
if [ -z "$kernel" ]; then
  kernel=$("$here/build.sh" | tail -n1)
fi
[ -f "$kernel" ] || { echo "no kernel at $kernel" >&2; exit 1; }
for t in "$qemu" cpio mkfs.erofs mkfs.ext4 python3; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done
file "$busybox" 2>/dev/null | grep -q 'statically linked' \
  || { echo "$busybox is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/hyperkernel-test.XXXXXX")
cleanup() {
  if [ -n "${qpid:-}" ]; then kill "$qpid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "work dir: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- disk images and 9p share ------------------------------------------------
mkdir -p "$work/lower/etc" "$work/share"
echo "hello from erofs" > "$work/lower/etc/motd"
head -c 200000 /dev/zero | tr '\0' 'x' > "$work/lower/etc/big"   # compressible
mkfs.erofs -zlz4hc -x 1 -q "$work/erofs.img" "$work/lower" >/dev/null 2>&1 \
  || mkfs.erofs -zlz4 "$work/erofs.img" "$work/lower" >/dev/null
truncate -s 16M "$work/ext4.img"
mkfs.ext4 -q -F "$work/ext4.img"
echo "hello from 9p" > "$work/share/in.txt"

# --- initramfs -----------------------------------------------------------------
root=$work/initramfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt/erofs,mnt/ext4,mnt/9p,mnt/ovl,mnt/merged}
cp "$busybox" "$root/bin/busybox"
# the kernel opens /dev/console for init's stdio before anything is mounted
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fails=0
ok()   { echo "CHECK OK   $*"; }
bad()  { echo "CHECK FAIL $*"; fails=$((fails+1)); }
check() { name=$1; shift; if "$@" >/tmp/out 2>&1; then ok "$name"; else bad "$name: $(cat /tmp/out | head -n5)"; fi; }

echo "uname: $(uname -a)"
echo "cmdline: $(cat /proc/cmdline)"
echo "uptime at init: $(cut -d' ' -f1 /proc/uptime)"
check "smp ($EXPECT_CPUS cpus)" test "$(nproc)" = "$EXPECT_CPUS"
check "rtc wall clock" test "$(date +%Y)" -ge 2023

# virtio-serial port named hyper.0
port=""
for p in /sys/class/virtio-ports/vport*; do
  [ -e "$p/name" ] || continue
  [ "$(cat "$p/name")" = hyper.0 ] && port=$(basename "$p")
done
check "virtio-serial port hyper.0 (/dev/$port)" test -n "$port" -a -c "/dev/$port"
if [ -n "$port" ]; then
  exec 3<>"/dev/$port"
  if read -r line <&3; then echo "pong:$line" >&3; ok "virtio-serial read '$line'"; else bad "virtio-serial read"; fi
  exec 3>&-
fi

# virtio-blk serials
check "vda serial img0" test "$(cat /sys/block/vda/serial)" = img0
check "vdb serial img1" test "$(cat /sys/block/vdb/serial)" = img1

# EROFS (lz4) + overlayfs on top (tmpfs upper, needs tmpfs xattrs)
check "mount erofs" mount -t erofs -o ro /dev/vda /mnt/erofs
check "read erofs" test "$(cat /mnt/erofs/etc/motd)" = "hello from erofs"
check "read erofs lz4 file" test "$(wc -c < /mnt/erofs/etc/big)" = 200000
check "mount tmpfs" mount -t tmpfs tmpfs /mnt/ovl
mkdir -p /mnt/ovl/upper /mnt/ovl/work
check "mount overlay" mount -t overlay overlay -o lowerdir=/mnt/erofs,upperdir=/mnt/ovl/upper,workdir=/mnt/ovl/work /mnt/merged
check "overlay read lower" test "$(cat /mnt/merged/etc/motd)" = "hello from erofs"
check "overlay write" sh -c 'echo changed > /mnt/merged/etc/motd && test "$(cat /mnt/merged/etc/motd)" = changed && test -f /mnt/ovl/upper/etc/motd'
check "overlay whiteout" sh -c 'rm /mnt/merged/etc/big && test ! -e /mnt/merged/etc/big'

# ext4 rw
check "mount ext4" mount -t ext4 /dev/vdb /mnt/ext4
check "write ext4" sh -c 'echo data > /mnt/ext4/f && sync && test "$(cat /mnt/ext4/f)" = data'

# 9p
check "mount 9p" mount -t 9p -o trans=virtio,version=9p2000.L share /mnt/9p
check "read 9p" test "$(cat /mnt/9p/in.txt)" = "hello from 9p"
check "write 9p" sh -c 'echo "hello from guest" > /mnt/9p/out.txt'

# namespaces
check "unshare pid/ipc/uts/mnt" unshare -p -f -i -u -m --mount-proc sh -c 'test $$ = 1 && hostname inner && test "$(hostname)" = inner'
check "hostname untouched" test "$(hostname)" != inner
check "unshare user+net" unshare -U -n sh -c 'test "$(ls /sys/class/net | wc -l)" -ge 0 && ip link show lo'
check "sysv ipc / mqueue" sh -c 'test -e /proc/sys/kernel/shmmax && test -d /proc/sys/fs/mqueue'

# cgroup v2
mkdir -p /sys/fs/cgroup
check "mount cgroup2" mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
for c in cpuset cpu io memory pids; do
  check "cgroup controller $c" grep -qw $c /sys/fs/cgroup/cgroup.controllers
done
check "cgroup subtree_control" sh -c 'echo "+cpuset +cpu +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control'
check "cgroup child limits" sh -c 'mkdir /sys/fs/cgroup/c && echo 64M > /sys/fs/cgroup/c/memory.max && echo 10 > /sys/fs/cgroup/c/pids.max && echo "50000 100000" > /sys/fs/cgroup/c/cpu.max && echo 0 > /sys/fs/cgroup/c/cpuset.cpus && echo "$(cat /sys/block/vda/dev) rbps=1048576" > /sys/fs/cgroup/c/io.max'
check "cgroup freeze" sh -c 'echo 1 > /sys/fs/cgroup/c/cgroup.freeze && echo 0 > /sys/fs/cgroup/c/cgroup.freeze'

# devices
check "devpts" sh -c 'mkdir -p /dev/pts && mount -t devpts devpts /dev/pts && test -c /dev/ptmx'
check "virtio-rng" grep -q virtio /sys/class/misc/hw_random/rng_current
check "vsock" test -c /dev/vsock
check "virtio-net eth0" test -e /sys/class/net/eth0

check "no kernel warnings" sh -c '! dmesg | grep -E "WARNING:|BUG:|Call Trace"'
dmesg | grep -q "TSC unstable" && echo "NOTE: $(dmesg | grep 'TSC unstable') (pass tsc_early_khz=)"
echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "CHECKS DONE fails=$fails"
echo "uptime at end: $(cut -d' ' -f1 /proc/uptime)"
sync
reboot -f
EOF
sed -i "s/\$EXPECT_CPUS/$smp/g" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initrd.cpio"

# --- host side of the virtio-serial port: send a line, expect "pong:<line>" ----
sock=$work/hyper.0.sock
cat > "$work/serial.py" <<'EOF'
import socket, sys, time
path = sys.argv[1]
deadline = time.time() + 60
while True:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        if time.time() > deadline: sys.exit("cannot connect")
        time.sleep(0.05)
s.sendall(b"ping\n")
s.settimeout(60)
buf = b""
while b"\n" not in buf:
    d = s.recv(100)
    if not d: break
    buf += d
print(buf.decode().strip())
EOF

console=$work/console.log
args=(
  -accel tcg
  -M microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off
  -cpu "$cpu" -m 256 -smp "$smp"
  -global virtio-mmio.force-legacy=$([ "$mmio_legacy" = 1 ] && echo true || echo false)
  -nodefaults -no-user-config -nographic -no-reboot
  -kernel "$kernel" -initrd "$work/initrd.cpio"
  -append "$append"
  -serial "file:$console"
  -device virtio-serial-device
  -chardev "socket,path=$sock,server=on,wait=off,id=ch0"
  -device virtserialport,chardev=ch0,name=hyper.0
  -drive "file=$work/erofs.img,if=none,id=d0,format=raw,readonly=on"
  -device virtio-blk-device,drive=d0,serial=img0
  -drive "file=$work/ext4.img,if=none,id=d1,format=raw"
  -device virtio-blk-device,drive=d1,serial=img1
  -fsdev "local,id=fs0,path=$work/share,security_model=none"
  -device virtio-9p-device,fsdev=fs0,mount_tag=share
  -object rng-random,id=rng0,filename=/dev/urandom
  -device virtio-rng-device,rng=rng0
  -netdev user,id=n0,restrict=on
  -device virtio-net-device,netdev=n0
)
echo "+ $qemu ${args[*]}" >&2
start=$(date +%s.%N)
"$qemu" "${args[@]}" &
qpid=$!
reply=$(python3 "$work/serial.py" "$sock" || true)
rc=0
wait "$qpid" || rc=$?
qpid=""
end=$(date +%s.%N)
cat "$console"
echo "---"
echo "host: virtio-serial reply: $reply"
echo "host: qemu exit status $rc after $(echo "$end - $start" | bc) s"

status=0
grep -q 'CHECKS DONE fails=0' "$console" || { echo "FAIL: guest checks failed" >&2; status=1; }
[ "$reply" = "pong:ping" ] || { echo "FAIL: virtio-serial round trip" >&2; status=1; }
[ "$(cat "$work/share/out.txt" 2>/dev/null)" = "hello from guest" ] || { echo "FAIL: 9p write not visible on host" >&2; status=1; }
[ "$rc" = 0 ] || { echo "FAIL: qemu exit status $rc" >&2; status=1; }
[ "$status" = 0 ] && echo "PASS"
exit "$status"
