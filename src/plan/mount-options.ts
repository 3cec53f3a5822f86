// OCI mount options ("nosuid", "ro", "mode=755") into mount(2) flags and data.
// Flag values are from include/uapi/linux/mount.h.

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20,
  MANDLOCK: 0x40, DIRSYNC: 0x80, NOATIME: 0x400, NODIRATIME: 0x800, BIND: 0x1000,
  MOVE: 0x2000, REC: 0x4000, SILENT: 0x8000, UNBINDABLE: 0x20000, PRIVATE: 0x40000,
  SLAVE: 0x80000, SHARED: 0x100000, RELATIME: 0x200000, STRICTATIME: 0x1000000,
} as const;

const SET: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, sync: MS.SYNCHRONOUS,
  dirsync: MS.DIRSYNC, noatime: MS.NOATIME, nodiratime: MS.NODIRATIME, bind: MS.BIND,
  rbind: MS.BIND | MS.REC, relatime: MS.RELATIME, strictatime: MS.STRICTATIME,
};
const CLEAR = new Set(["rw", "suid", "dev", "exec", "async", "atime", "diratime"]);
/** Propagation types, as mount options and as linux.rootfsPropagation. */
export const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** mount_setattr(2) attributes (MOUNT_ATTR_* in include/uapi/linux/mount.h). */
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME_MASK: 0x70, RELATIME: 0x0,
  NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

/**
 * The runtime-spec's recursive options ("rro", "rnosuid", ...): applied to a
 * mount and every mount below it with mount_setattr(AT_RECURSIVE). A plain
 * "ro" on an rbind changes only the top mount, as the spec says.
 */
const RECURSIVE: Record<string, { set: number; clear: number }> = {
  rro: { set: MOUNT_ATTR.RDONLY, clear: 0 },
  rrw: { set: 0, clear: MOUNT_ATTR.RDONLY },
  rnosuid: { set: MOUNT_ATTR.NOSUID, clear: 0 },
  rsuid: { set: 0, clear: MOUNT_ATTR.NOSUID },
  rnodev: { set: MOUNT_ATTR.NODEV, clear: 0 },
  rdev: { set: 0, clear: MOUNT_ATTR.NODEV },
  rnoexec: { set: MOUNT_ATTR.NOEXEC, clear: 0 },
  rexec: { set: 0, clear: MOUNT_ATTR.NOEXEC },
  rnodiratime: { set: MOUNT_ATTR.NODIRATIME, clear: 0 },
  rdiratime: { set: 0, clear: MOUNT_ATTR.NODIRATIME },
  rnosymfollow: { set: MOUNT_ATTR.NOSYMFOLLOW, clear: 0 },
  rsymfollow: { set: 0, clear: MOUNT_ATTR.NOSYMFOLLOW },
  // The access-time modes are one field: setting one clears the field first.
  rrelatime: { set: MOUNT_ATTR.RELATIME, clear: MOUNT_ATTR.ATIME_MASK },
  rnoatime: { set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR.ATIME_MASK },
  rstrictatime: { set: MOUNT_ATTR.STRICTATIME, clear: MOUNT_ATTR.ATIME_MASK },
};

export interface ParsedMountOptions {
  flags: number;
  /** Propagation changes need a mount(2) call of their own. */
  propagation: number;
  /** Everything the filesystem interprets itself, comma-joined. */
  data: string;
  /** Attributes for the whole tree (the "r…" options), set with mount_setattr(AT_RECURSIVE). */
  recursive: { set: number; clear: number };
}

export function parseMountOptions(options: string[] = []): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const recursive = { set: 0, clear: 0 };
  const data: string[] = [];
  for (const option of options) {
    if (option in SET) flags |= SET[option]!;
    else if (CLEAR.has(option)) continue;
    else if (option in PROPAGATION) propagation |= PROPAGATION[option]!;
    else if (option in RECURSIVE) {
      const attr = RECURSIVE[option]!;
      recursive.set = (recursive.set & ~attr.clear) | attr.set;
      recursive.clear |= attr.clear;
    } else data.push(option);
  }
  return { flags, propagation, data: data.join(","), recursive };
}

/** "rdonly,nosuid" for -v: the mount_setattr attributes in a mask, by name. */
export function describeMountAttributes(attributes: number): string {
  const names = Object.entries(MOUNT_ATTR).filter(([name, bit]) => bit !== 0 && name !== "ATIME_MASK" && (attributes & bit) === bit);
  return names.map(([name]) => name.toLowerCase()).join(",");
}

/** "nosuid,nodev,ro" for -v: the flags that were set, by name. */
export function describeFlags(flags: number): string {
  const names = Object.entries(MS).filter(([, bit]) => flags & bit).map(([name]) => name.toLowerCase());
  return names.join(",");
}
