// An image's config applied to `run`, with docker's override rules:
//
//   command   --entrypoint E given: [E] + (the command after the image, or
//             nothing: the image's Cmd is dropped, as docker does);
//             else Entrypoint + (the command after the image, or Cmd).
//             Nothing at all: /bin/sh (the seed's default).
//   env       the image's Env, then -e (a later KEY wins); HOME from the
//             user's passwd entry unless one of them sets it.
//   cwd       -w, else WorkingDir, else /.
//   user      -u, else User: "name", "uid", "name:group", "uid:gid",
//             names looked up in the image's /etc/passwd and /etc/group
//             (read through its layers, top first, as overlayfs would show
//             them); supplementary groups from /etc/group.
//   StopSignal, ExposedPorts, Labels: kept with the container (stop, inspect).

import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { asDiycError } from "../linux/errors";
import { ImageError } from "./errors";
import type { ImageConfig } from "./oci-image";

export interface RunFlags {
  /** What follows the image on the command line. */
  command: string[];
  /** --entrypoint: "" clears the image's. */
  entrypoint?: string;
  env: string[];
  workdir?: string;
  user?: string;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home?: string;
}

export interface AppliedConfig {
  args: string[];
  env: string[];
  cwd?: string;
  user?: ResolvedUser;
  stopSignal?: string;
  exposedPorts?: string[];
  labels?: Record<string, string>;
}

/** Reads a small file as the container would see it at `path`; undefined if absent. */
export type ImageFileReader = (path: string) => string | undefined;

export function applyImageConfig(config: ImageConfig | undefined, flags: RunFlags, readFile: ImageFileReader): AppliedConfig {
  const c = config?.config ?? {};
  let args: string[];
  if (flags.entrypoint !== undefined) {
    args = [...(flags.entrypoint === "" ? [] : [flags.entrypoint]), ...flags.command];
  } else {
    args = [...(c.Entrypoint ?? []), ...(flags.command.length > 0 ? flags.command : c.Cmd ?? [])];
  }
  if (args.length === 0) args = ["/bin/sh"];
  const userText = flags.user ?? (c.User || undefined);
  const user = userText === undefined ? undefined : resolveUser(userText, readFile);
  const env = [...(c.Env ?? []), ...flags.env];
  const setsHome = env.some((e) => e.startsWith("HOME="));
  const home = user?.home ?? (userText === undefined ? undefined : "/");
  return {
    args,
    env: !setsHome && home !== undefined ? [`HOME=${home}`, ...env] : env,
    cwd: flags.workdir ?? (c.WorkingDir || undefined),
    user,
    stopSignal: c.StopSignal || undefined,
    exposedPorts: c.ExposedPorts ? Object.keys(c.ExposedPorts).sort() : undefined,
    labels: c.Labels ?? undefined,
  };
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const ID = /^\d{1,10}$/;
const MAX_ID = 0xfffffffe;

function parsePasswd(text: string | undefined): PasswdEntry[] {
  return (text ?? "").split("\n").flatMap((line) => {
    const f = line.split(":");
    if (f.length < 7 || !ID.test(f[2]!) || !ID.test(f[3]!)) return [];
    return [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }];
  });
}

function parseGroup(text: string | undefined): GroupEntry[] {
  return (text ?? "").split("\n").flatMap((line) => {
    const f = line.split(":");
    if (f.length < 4 || !ID.test(f[2]!)) return [];
    return [{ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(",").filter(Boolean) }];
  });
}

/**
 * docker's -u / User: names through the image's files, numbers as they are.
 * `whose` names those files in errors: "the image's" for run, "the container's"
 * for exec (which reads the container's own, changed files).
 */
export function resolveUser(text: string, readFile: ImageFileReader, whose = "the image's"): ResolvedUser {
  const [userPart, groupPart, ...extra] = text.split(":");
  if (!userPart || extra.length > 0 || groupPart === "") {
    throw new ImageError(`invalid user ${JSON.stringify(text)}: use NAME|UID[:GROUP|GID]`);
  }
  const passwd = parsePasswd(readFile("/etc/passwd"));
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (ID.test(userPart)) {
    uid = Number(userPart);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw new ImageError(`unable to find user ${userPart}: no matching entries in ${whose} /etc/passwd`);
    uid = entry.uid;
  }
  let gid: number;
  const groups = groupPart === undefined || entry ? parseGroup(readFile("/etc/group")) : [];
  if (groupPart === undefined) {
    // As the seed did for a bare number without a passwd entry: the same number.
    gid = entry?.gid ?? uid;
  } else if (ID.test(groupPart)) {
    gid = Number(groupPart);
  } else {
    const group = (groups.length > 0 ? groups : parseGroup(readFile("/etc/group"))).find((g) => g.name === groupPart);
    if (!group) throw new ImageError(`unable to find group ${groupPart}: no matching entries in ${whose} /etc/group`);
    gid = group.gid;
  }
  if (uid > MAX_ID || gid > MAX_ID) throw new ImageError(`invalid user ${JSON.stringify(text)}: ids go up to ${MAX_ID}`);
  // Supplementary groups: those listing the user by name (as initgroups(3) would), when no group was given.
  const additionalGids = groupPart === undefined && entry
    ? [...new Set(groups.filter((g) => g.members.includes(entry!.name) && g.gid !== gid).map((g) => g.gid))]
    : [];
  return { uid, gid, additionalGids, ...(entry ? { home: entry.home } : {}) };
}

const MAX_ACCOUNT_FILE = 4 << 20;

/**
 * Reads LAYER/PARTS... through file descriptors, each component opened with
 * O_NOFOLLOW below the one before: the upper layer is the running
 * container's to change, and between an lstat and a read by path it could
 * swap in a symlink to a host file (read by diyc, as root). Undefined if any
 * component is not what it was (a symlink now, gone), or the file is larger
 * than an account file can be.
 */
export function readWithoutSymlinks(layer: string, parts: string[]): string | undefined {
  const opened: number[] = [];
  try {
    opened.push(openSync(layer, constants.O_RDONLY | constants.O_DIRECTORY));
    for (const [index, part] of parts.entries()) {
      const last = index === parts.length - 1;
      // /proc/self/fd/N/PART: PART resolved in the directory already opened, never through a symlink.
      // The file itself without blocking: the container could have made it a FIFO (fstat refuses it below).
      const flags = constants.O_RDONLY | constants.O_NOFOLLOW | (last ? constants.O_NONBLOCK : constants.O_DIRECTORY);
      opened.push(openSync(`/proc/self/fd/${opened.at(-1)}/${part}`, flags));
    }
    const file = opened.at(-1)!;
    const stats = fstatSync(file);
    if (!stats.isFile() || stats.size > MAX_ACCOUNT_FILE) return undefined;
    return readFileSync(file, "utf8");
  } catch (error) {
    // Changed under us: a symlink (ELOOP), not a directory any more, gone. Anything else is an error with its path.
    if (["ELOOP", "ENOTDIR", "ENOENT"].includes((error as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw asDiycError(error, join(layer, ...parts));
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/**
 * A reader for `/etc/passwd`-like files through an image's layers, top
 * first: the first layer with the file wins; a whiteout (a 0:0 character
 * device) of the file or of a directory above it hides everything below.
 * Symlinks are not followed (they would resolve on the host): such a file
 * reads as absent. Opaque directories are not looked at: an image whose
 * upper layer makes /etc opaque and has no passwd would show a lower one.
 */
export function layerFileReader(lowerdirs: string[]): ImageFileReader {
  return (path) => {
    const parts = path.split("/").filter(Boolean);
    for (const layer of lowerdirs) {
      let dir = layer;
      for (const [index, part] of parts.entries()) {
        const at = join(dir, part);
        const stats = lstatSync(at, { throwIfNoEntry: false });
        if (stats === undefined) break; // not in this layer: look below
        if (stats.isCharacterDevice() && stats.rdev === 0) return undefined; // a whiteout
        if (index === parts.length - 1) return stats.isFile() ? readWithoutSymlinks(layer, parts) : undefined;
        if (!stats.isDirectory()) return undefined;
        dir = at;
      }
    }
    return undefined;
  };
}
