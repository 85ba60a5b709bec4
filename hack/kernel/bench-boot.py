#!/usr/bin/env python3
"""Measure hyperkernel's "floor" boot time under QEMU TCG on microvm.

The initramfs holds only a static busybox and an /init that prints a marker
and immediately powers the VM off:

    #!/bin/busybox sh
    echo HYPER-INIT-REACHED
    busybox reboot -f

For each run this reports (host wall clock, from just before QEMU is spawned):
  init   time until the marker appears on the serial console (= /init ran)
  exit   time until QEMU has exited (the floor: boot + power-off)
and prints the median of each. QEMU's exit status must be 0.

Usage:
  hack/kernel/bench-boot.py [--kernel vmlinux] [--runs 7]
        [--append "extra kernel args"]... [--machine "microvm,..."]
        [--smp 1] [--mem 256] [--show-console]

--append may be given several times: each value is a variant, and the
variants are run interleaved (round-robin) so that host noise hits all of
them alike.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = b"HYPER-INIT-REACHED"
DEFAULT_MACHINE = "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off"
DEFAULT_APPEND = "console=ttyS0 reboot=t panic=-1 quiet"


def make_initramfs(workdir, busybox):
    root = os.path.join(workdir, "root")
    for d in ("bin", "dev", "proc", "sys"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    with open(os.path.join(root, "init"), "w") as f:
        f.write("#!/bin/busybox sh\necho %s\nbusybox reboot -f\n" % MARKER.decode())
    os.chmod(os.path.join(root, "init"), 0o755)
    try:
        os.mknod(os.path.join(root, "dev", "console"), 0o20600, os.makedev(5, 1))
    except PermissionError:
        sys.exit("need root to create dev/console in the initramfs")
    out = os.path.join(workdir, "initrd.cpio")
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files, stdout=f, check=True)
    return out


def run_once(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t_init = None
    out = b""
    while True:
        chunk = p.stdout.read1(4096)
        if not chunk:
            break
        out += chunk
        if t_init is None and MARKER in out:
            t_init = time.perf_counter() - t0
    err = p.stderr.read()
    rc = p.wait()
    t_exit = time.perf_counter() - t0
    return t_init, t_exit, rc, out, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", action="append", help="vmlinux (repeat to compare kernels)")
    ap.add_argument("--qemu", default=os.environ.get("QEMU", "qemu-system-x86_64"))
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--machine", default=DEFAULT_MACHINE)
    ap.add_argument("--base-append", default=DEFAULT_APPEND)
    ap.add_argument("--append", action="append", help="extra kernel command line (repeat for variants)")
    ap.add_argument("--smp", default="1")
    ap.add_argument("--mem", default="256")
    ap.add_argument("--extra", default="", help="extra qemu args (split on spaces)")
    ap.add_argument("--show-console", action="store_true")
    a = ap.parse_args()

    kernels = a.kernel
    if not kernels:
        kernels = [subprocess.run([os.path.join(HERE, "build.sh")], check=True,
                                  stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]]
    work = tempfile.mkdtemp(prefix="hyperkernel-bench.", dir=os.environ.get("TMPDIR", "/var/tmp"))
    try:
        initrd = make_initramfs(work, a.busybox)
        variants, cmds = [], []
        for kernel in kernels:
            for v in a.append or [""]:
                variants.append(v if len(kernels) == 1 else "%s %s" % (kernel, v))
                append = (a.base_append + " " + v).strip()
                cmds.append([a.qemu, "-accel", "tcg", "-M", a.machine, "-m", a.mem, "-smp", a.smp,
                             "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                             "-kernel", kernel, "-initrd", initrd, "-append", append,
                             "-serial", "stdio"] + a.extra.split())
        print("cmd:", " ".join(cmds[0]), file=sys.stderr)
        inits = [[] for _ in variants]
        exits = [[] for _ in variants]
        for i in range(a.runs):
            for k, cmd in enumerate(cmds):
                t_init, t_exit, rc, out, err = run_once(cmd)
                if a.show_console and i == 0:
                    sys.stderr.write(out.decode(errors="replace") + err.decode(errors="replace"))
                if rc != 0 or t_init is None:
                    sys.stderr.write(out.decode(errors="replace")[-3000:] + err.decode(errors="replace"))
                    sys.exit("run %d of %r failed: rc=%d marker=%s" % (i, variants[k], rc, t_init is not None))
                inits[k].append(t_init)
                exits[k].append(t_exit)
                print("run %d [%s]: init %.3fs exit %.3fs" % (i, variants[k], t_init, t_exit), file=sys.stderr)
        for k, v in enumerate(variants):
            print("median over %d runs: init %.3fs  exit %.3fs  (min exit %.3fs, max exit %.3fs)  %s" % (
                a.runs, statistics.median(inits[k]), statistics.median(exits[k]),
                min(exits[k]), max(exits[k]), v))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
