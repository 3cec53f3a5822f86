#!/bin/busybox sh
# PID 1 of the cgroup v2 test VM (see docs/cgroups.md, "cgroup v2 in a VM").
# Built into the initramfs by test/vm/image.ts; the kernel passes the
# diyc_* parameters of its command line as environment variables.
#
# Stage 1 (in the initramfs): copy the initramfs into a tmpfs and switch_root
# there, because pivot_root(2) refuses a root that has no parent mount, and
# the initramfs (rootfs) is such a root: diyc's containers need pivot_root.
# Stage 2 (on the tmpfs): mount /proc, /sys, /dev, a pure cgroup2 hierarchy,
# load the modules, mount the repository over 9p read-only, run the guest
# tests with bun test (the files named by diyc_tests), print their JUnit
# report on the console between two
# marker lines (base64, so nothing on the console can corrupt it), power off.
set -u
export PATH=/bin:/usr/bin
if [ "${1:-}" != stage2 ]; then
  /bin/busybox mkdir -p /proc /newroot
  /bin/busybox mount -t proc proc /proc
  /bin/busybox mount -t tmpfs -o mode=0755 root /newroot
  for entry in /bin /usr /lib /lib64 /init /modules.order; do
    [ -e "$entry" ] && /bin/busybox cp -a "$entry" /newroot/
  done
  /bin/busybox umount /proc
  exec /bin/busybox switch_root /newroot /init stage2
fi

/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /run /etc /var/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
# A pure v2 host, mounted as systemd mounts it: nsdelegate makes each cgroup
# namespace a delegation boundary.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
echo "root:x:0:" > /etc/group
hostname diyc-vm
ip link set lo up 2>/dev/null

# A watchdog: the VM powers itself off after diyc_timeout seconds whatever
# happens, so a hung test cannot keep qemu running if the host side that
# started it has died (it kills qemu by its pid itself, when it lives).
( sleep "${diyc_timeout:-600}"; echo "VM| watchdog: ${diyc_timeout:-600} s are up, powering off"; poweroff -f ) &

echo "VM| modules: $(cat /modules.order | tr '\n' ' ')"
while read -r module; do
  insmod "/lib/modules/$module" || echo "VM| insmod $module failed"
done < /modules.order

# A swap device (zram, in memory) so that --memory-swap has something to swap to.
if [ -e /sys/block/zram0 ]; then
  echo 256M > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 && echo "VM| swap on /dev/zram0"
fi

repo=${diyc_repo:?diyc_repo= missing from the kernel command line}
mkdir -p "$repo"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose repo "$repo" || { echo "VM| mount 9p failed"; poweroff -f; }
echo "VM| kernel $(uname -r); cgroup: $(grep cgroup /proc/mounts | tr '\n' ' ')"
echo "VM| controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "VM| ready $(cut -d' ' -f1 /proc/uptime)"

# As on a systemd host, nothing runs in the root cgroup but the kernel's own
# threads: the tests (and every diyc they start) run in /ci.scope, so diyc
# must make its cgroups next to its own, not below it (v2's "no internal
# processes" rule), and enable controllers at the root for them.
mkdir /sys/fs/cgroup/ci.scope && echo $$ > /sys/fs/cgroup/ci.scope/cgroup.procs
echo "VM| tests run in cgroup $(cat /proc/self/cgroup)"

cd "$repo"
export HOME=/tmp TMPDIR=/tmp BUN_RUNTIME_TRANSPILER_CACHE_PATH=0 NO_COLOR=1
# diyc_script=FILE (a path in the checkout) runs that shell script instead of
# the tests: for trying things on the v2 kernel by hand (bun test/vm/vm.ts --script FILE).
if [ -n "${diyc_script:-}" ]; then
  sh "$repo/$diyc_script" 2>&1
  echo "VM| script exit $?"
  poweroff -f
fi
# Only the tests named by diyc_filter (when given), as bun test -t.
set -- test --timeout 120000 --reporter=junit --reporter-outfile=/tmp/junit.xml
[ -n "${diyc_filter:-}" ] && set -- "$@" -t "$diyc_filter"
# The test files: diyc_tests, comma-separated (test/vm/vm.ts GUEST_TEST_FILES).
node_modules/bun/bin/bun.exe "$@" $(echo "${diyc_tests:?diyc_tests= missing}" | tr ',' ' ') 2>&1
echo "VM| bun test exit $? at $(cut -d' ' -f1 /proc/uptime)"
echo "VM-JUNIT-BEGIN"
base64 /tmp/junit.xml 2>/dev/null
echo "VM-JUNIT-END"
# Anything diyc left mounted in the VM shows here (the tests check it too).
# (The checkout's own 9p mount, tag "repo", is not one.)
grep -E 'overlay|diyc' /proc/mounts | grep -v '^repo ' | sed 's/^/VM| leftover mount: /'
poweroff -f
