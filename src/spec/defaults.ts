// What a container gets when the user asks for nothing else: secure defaults,
// the same ones docker, podman and runc ship (and runc's `spec` command prints).

import type { LinuxDevice, Mount } from "./oci";

/**
 * The container capability set: podman's current default. Docker's also has
 * NET_RAW (on the host network, the seed's default, it lets a container sniff
 * and forge the host's traffic), MKNOD and AUDIT_WRITE; `--cap-add` brings
 * them back. Ping works without NET_RAW through ICMP echo sockets
 * (net.ipv4.ping_group_range, set in the container's network namespace).
 */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
  "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
];

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The NIS domain name every container gets, as in the seed. */
export const DEFAULT_DOMAINNAME = "diyc";

/**
 * Hidden from the container: kernel memory, keys, timers and hardware details
 * that leak host information or allow attacks (e.g. /proc/kcore is the host's RAM).
 */
export const DEFAULT_MASKED_PATHS = [
  "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
  "/sys/firmware", "/sys/devices/virtual/powercap",
];

/** Visible but read-only: writing these would reconfigure the host's kernel. */
export const DEFAULT_READONLY_PATHS = [
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
];

/**
 * The filesystems every container has. /dev is a small tmpfs, never the host's
 * devtmpfs (the seed mounted devtmpfs, which exposes every host disk).
 */
export const DEFAULT_MOUNTS: Mount[] = [
  { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
  { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
  { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
  { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  // The container's own cgroups, read-only (expanded per host by src/plan/compile.ts).
  { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
];

const charDevice = (path: string, major: number, minor: number): LinuxDevice =>
  ({ path, type: "c", major, minor, fileMode: 0o666, uid: 0, gid: 0 });

/** The only device nodes in a container's /dev. */
export const DEFAULT_DEVICES: LinuxDevice[] = [
  charDevice("/dev/null", 1, 3),
  charDevice("/dev/zero", 1, 5),
  charDevice("/dev/full", 1, 7),
  charDevice("/dev/random", 1, 8),
  charDevice("/dev/urandom", 1, 9),
  charDevice("/dev/tty", 5, 0),
];

/** Links every Linux program expects in /dev. */
export const DEV_SYMLINKS: [target: string, path: string][] = [
  ["/proc/self/fd", "/dev/fd"],
  ["/proc/self/fd/0", "/dev/stdin"],
  ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"],
  ["pts/ptmx", "/dev/ptmx"],
];
