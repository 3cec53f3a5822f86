// Rootless diyc: an ordinary user, with no root at all, runs containers.
//
// The kernel lets any user make a user namespace, but maps only the user's
// own id into it. Images need more: their files belong to root and to
// other users (daemon, www-data, nobody). /etc/subuid and /etc/subgid give
// each user a range of ids of their own, and the setuid helpers newuidmap and
// newgidmap (Debian package uidmap) write a map that uses that range. So a
// rootless container sees
//
//   container id 0          = the user (files the user owns show as root's)
//   container ids 1..65536  = the user's subordinate ids
//
// the layout podman uses. Every process and file of the container stays the
// user's or one of the user's own ids on the host.
//
// Files the container or an image owns under a subordinate id cannot be
// chowned or removed by the user outside a user namespace: those steps run in
// one with the same map (util-linux unshare, runAsNamespaceRoot below).

import { existsSync, readFileSync } from "node:fs";
import { DiycError, UsageError } from "./errors";

/** Container ids 1..SUBORDINATE_IDS come from /etc/subuid: root, the system users and ordinary users up to 65535, and nobody (65534). */
const SUBORDINATE_IDS = 65536;

export interface IdRange {
  start: number;
  count: number;
}

export interface RootlessIdentity {
  uid: number;
  gid: number;
  /** The user's name, as /etc/subuid lists it (a uid works too). */
  user: string;
  /** The first host id of the subordinate uids (container uid 1) and gids. */
  subuid: number;
  subgid: number;
}

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

const NEWUIDMAP = "/usr/bin/newuidmap";
const NEWGIDMAP = "/usr/bin/newgidmap";
const UNSHARE = "/usr/bin/unshare";

/** The user's name in /etc/passwd, or undefined. */
export function userName(uid: number, passwd: string): string | undefined {
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 3 && fields[2] === String(uid)) return fields[0];
  }
  return undefined;
}

/** The ranges a subuid/subgid file gives `owner` (a name or a uid, as shadow-utils accepts). */
export function rangesFor(text: string, owners: string[]): IdRange[] {
  return text.split("\n").map((line) => line.trim().split(":"))
    .filter((f) => f.length === 3 && owners.includes(f[0]!) && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!))
    .map((f) => ({ start: Number(f[1]), count: Number(f[2]) }));
}

/** A file's text; "" if there is none (a host without /etc/subgid gives no ids). */
function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

/**
 * Who runs diyc, and the ids /etc/subuid and /etc/subgid give them. Refuses,
 * with what to do, a user without a range of SUBORDINATE_IDS or a host
 * without newuidmap: half a mapping would fail later, on the first image
 * file owned by another user.
 */
export function rootlessIdentity(uid: number, gid: number, files = { passwd: "/etc/passwd", subuid: "/etc/subuid", subgid: "/etc/subgid" }): RootlessIdentity {
  const name = userName(uid, read(files.passwd));
  const owners = name === undefined ? [String(uid)] : [name, String(uid)];
  const user = name ?? String(uid);
  const big = (ranges: IdRange[]) => ranges.find((r) => r.count >= SUBORDINATE_IDS);
  const subuid = big(rangesFor(read(files.subuid), owners));
  const subgid = big(rangesFor(read(files.subgid), owners));
  if (!subuid || !subgid) {
    throw new UsageError(
      `rootless diyc needs ${SUBORDINATE_IDS} subordinate ids for ${user} in ${subuid ? files.subgid : files.subuid}` +
        ` (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user})`,
    );
  }
  for (const tool of [NEWUIDMAP, NEWGIDMAP, UNSHARE]) {
    if (!existsSync(tool)) throw new UsageError(`rootless diyc needs ${tool} (Debian packages uidmap and util-linux)`);
  }
  return { uid, gid, user, subuid: subuid.start, subgid: subgid.start };
}

/** The container's ids: 0 is the user, 1..65536 the user's subordinate ids. */
export function rootlessIdMaps(identity: RootlessIdentity): { uid: IdMap[]; gid: IdMap[] } {
  return {
    uid: [{ containerID: 0, hostID: identity.uid, size: 1 }, { containerID: 1, hostID: identity.subuid, size: SUBORDINATE_IDS }],
    gid: [{ containerID: 0, hostID: identity.gid, size: 1 }, { containerID: 1, hostID: identity.subgid, size: SUBORDINATE_IDS }],
  };
}

/**
 * Writes the user namespace of `pid` its maps through the setuid helpers
 * (the kernel lets an ordinary user write only a map of their own id).
 * newgidmap leaves setgroups allowed: the container's root may drop groups.
 */
export function writeMapsWithHelpers(pid: number, identity: RootlessIdentity): void {
  const maps = rootlessIdMaps(identity);
  const triples = (list: IdMap[]) => list.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)]);
  for (const [tool, list] of [[NEWUIDMAP, maps.uid], [NEWGIDMAP, maps.gid]] as const) {
    const result = runTool([tool, String(pid), ...triples(list)]);
    if (result.exitCode !== 0) throw new DiycError(`${tool} ${pid}: ${result.error}`);
  }
}

/**
 * Runs `argv` as root of a new user namespace with the container's map, and
 * waits: the files of the user's containers and images are owned by the
 * user's subordinate ids, which only such a root may chown or delete.
 * Throws with the command's own error output when it fails.
 */
export function runAsNamespaceRoot(identity: RootlessIdentity, argv: string[]): void {
  const range = (start: number) => `${start},1,${SUBORDINATE_IDS}`;
  // --map-users OUTER,INNER,COUNT (util-linux 2.38) goes through newuidmap, as ours does.
  const args = ["--user", "--map-root-user", `--map-users=${range(identity.subuid)}`, `--map-groups=${range(identity.subgid)}`, "--", ...argv];
  const result = runTool([UNSHARE, ...args]);
  if (result.exitCode !== 0) throw new DiycError(`${argv.join(" ")} (as root of a user namespace): ${result.error}`);
}

/**
 * Runs a host tool and waits: its exit status, and its own error output for
 * the message. Bun.spawnSync rather than node:child_process: loading that
 * module costs every diyc command start-up time (bench/README.md).
 */
export function runTool(cmd: string[]): { exitCode: number; error: string } {
  const result = Bun.spawnSync({ cmd, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = result.stderr?.toString().trim() ?? "";
  return { exitCode: result.exitCode ?? 1, error: stderr || `exit status ${result.exitCode ?? `signal ${result.signalCode}`}` };
}
