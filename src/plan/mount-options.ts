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
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

export interface ParsedMountOptions {
  flags: number;
  /** Propagation changes need a mount(2) call of their own. */
  propagation: number;
  /** Everything the filesystem interprets itself, comma-joined. */
  data: string;
}

export function parseMountOptions(options: string[] = []): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const option of options) {
    if (option in SET) flags |= SET[option]!;
    else if (CLEAR.has(option)) continue;
    else if (option in PROPAGATION) propagation |= PROPAGATION[option]!;
    else data.push(option);
  }
  return { flags, propagation, data: data.join(",") };
}

/** "nosuid,nodev,ro" for -v: the flags that were set, by name. */
export function describeFlags(flags: number): string {
  const names = Object.entries(MS).filter(([, bit]) => flags & bit).map(([name]) => name.toLowerCase());
  return names.join(",");
}
