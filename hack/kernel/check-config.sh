#!/usr/bin/env bash
# Check that a kernel .config has everything Hyper needs BUILT IN (=y).
# Hyper's guest has no module loading, so "=m" does not count.
#
# Usage: hack/kernel/check-config.sh /path/to/.config   (or /boot/config-$(uname -r))
#        hack/kernel/check-config.sh --list              print the required symbols
#
# Exit status 0 if all required options are =y, 1 otherwise. Recommended
# options that are missing are reported as warnings only.
set -euo pipefail

# Keep in sync with docs/kernel.md ("Using your own kernel").
required=(
  # boot: QEMU -kernel with an ELF vmlinux needs the PVH entry point
  64BIT PVH PRINTK TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD
  BINFMT_ELF BINFMT_SCRIPT MULTIUSER
  # syscalls used by the agent and by container runtimes
  FUTEX EPOLL SIGNALFD TIMERFD EVENTFD SHMEM AIO FILE_LOCKING FHANDLE
  INOTIFY_USER POSIX_TIMERS PROC_SYSCTL SYSVIPC POSIX_MQUEUE UNIX98_PTYS
  # pseudo and real filesystems
  DEVTMPFS PROC_FS SYSFS TMPFS TMPFS_XATTR EXT4_FS OVERLAY_FS
  EROFS_FS EROFS_FS_XATTR EROFS_FS_ZIP 9P_FS NET_9P NET_9P_VIRTIO
  # virtio transports and devices
  VIRTIO VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES BLOCK VIRTIO_BLK SCSI BLK_DEV_SD SCSI_VIRTIO
  NETDEVICES VIRTIO_NET VIRTIO_CONSOLE HW_RANDOM HW_RANDOM_VIRTIO
  VSOCKETS VIRTIO_VSOCKETS
  # networking
  NET INET IPV6 UNIX PACKET
  # containers: namespaces and cgroup v2 controllers
  NAMESPACES UTS_NS IPC_NS USER_NS PID_NS NET_NS
  CGROUPS MEMCG CGROUP_PIDS CGROUP_SCHED FAIR_GROUP_SCHED CFS_BANDWIDTH
  CPUSETS BLK_CGROUP
  # confinement of container processes: seccomp filters, and Landlock (which
  # must also be in the LSM list, CONFIG_LSM or lsm=) to keep the containers
  # of a pod out of each other's /proc/PID
  SECCOMP SECCOMP_FILTER SECURITY SECURITY_LANDLOCK
  SMP
)
recommended=(
  # virtio over PCI (pc/q35 machines instead of microvm)
  PCI VIRTIO_PCI
  # KVM/PVM hosts: paravirt clock, spinlocks, PV IPIs
  HYPERVISOR_GUEST PARAVIRT KVM_GUEST
  # io.max, cgroup v1 freezer, cgroup v2 device control (runc/crun)
  BLK_DEV_THROTTLING CGROUP_FREEZER BPF_SYSCALL CGROUP_BPF
  DEVTMPFS_MOUNT TMPFS_POSIX_ACL EXT4_FS_POSIX_ACL EROFS_FS_POSIX_ACL 9P_FS_POSIX_ACL
  HIGH_RES_TIMERS NO_HZ_IDLE IO_URING
)

if [ "${1:-}" = --list ]; then
  printf 'CONFIG_%s=y\n' "${required[@]}"
  exit 0
fi
cfg=${1:?usage: $0 /path/to/.config | --list}
[ -r "$cfg" ] || { echo "cannot read $cfg" >&2; exit 2; }

missing=0
for s in "${required[@]}"; do
  v=$(grep -E "^CONFIG_${s}=" "$cfg" | head -n1 | cut -d= -f2- || true)
  if [ "$v" != y ]; then
    echo "MISSING  CONFIG_${s} (is: ${v:-not set})"
    missing=$((missing + 1))
  fi
done
for s in "${recommended[@]}"; do
  v=$(grep -E "^CONFIG_${s}=" "$cfg" | head -n1 | cut -d= -f2- || true)
  [ "$v" = y ] || echo "warning  CONFIG_${s} recommended (is: ${v:-not set})"
done
if grep -q '^CONFIG_MODULES=y' "$cfg"; then
  echo "note     CONFIG_MODULES=y: fine, but Hyper never loads modules; everything above must be =y"
fi
if [ "$missing" -gt 0 ]; then
  echo "$missing required option(s) missing: this kernel will not work with Hyper"
  exit 1
fi
echo "ok: all ${#required[@]} required options are built in"
