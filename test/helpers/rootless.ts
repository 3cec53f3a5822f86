// An ordinary user of the test's own, for rootless diyc: made with useradd
// (a system user, no home, no login) with 65536 subordinate ids that no
// other user of the host has, and removed with userdel (which removes its
// /etc/subuid and /etc/subgid lines too). diyc runs as that user through
// setpriv, with no capability and none of root's groups.

import { chownSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { DIYC, type Result } from "./diyc";

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** The first subordinate id (container id 1). */
  subid: number;
}

const SUBIDS = 65536;

function run(cmd: string[]): void {
  const result = Bun.spawnSync({ cmd, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${result.stderr.toString()}`);
}

/** The first id above every range /etc/subuid and /etc/subgid already give, and above 10^9. */
function freeSubidStart(): number {
  let start = 1_000_000_000;
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const [, first, count] = line.split(":");
      if (first && count) start = Math.max(start, Number(first) + Number(count));
    }
  }
  return start;
}

/** The host's "nobody": an ordinary user with no subordinate ids. */
export const NOBODY: TestUser = { name: "nobody", uid: 65534, gid: 65534, subid: 0 };

export const rootlessTools = ["/usr/sbin/useradd", "/usr/bin/setpriv", "/usr/bin/newuidmap", "/usr/bin/unshare"];

export function createTestUser(): TestUser {
  const name = `diyc-rl-${process.pid}`;
  const subid = freeSubidStart();
  run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]);
  try {
    const range = `${subid}-${subid + SUBIDS - 1}`;
    run(["usermod", "--add-subuids", range, "--add-subgids", range, name]);
  } catch (error) {
    run(["userdel", name]);
    throw error;
  }
  const id = (flag: string) => Number(Bun.spawnSync(["id", flag, name]).stdout.toString().trim());
  return { name, uid: id("-u"), gid: id("-g"), subid };
}

export function removeTestUser(user: TestUser): void {
  run(["userdel", user.name]);
}

/** A directory of the user's own (a store, XDG_DATA_HOME). */
export function userDirectory(user: TestUser, prefix: string): string {
  const dir = mkdtempSync(`/tmp/${prefix}`);
  chownSync(dir, user.uid, user.gid);
  return dir;
}

/** argv run as the user: real and effective ids, no supplementary groups, no capabilities. */
export function asUser(user: TestUser, argv: string[]): string[] {
  return ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--inh-caps=-all", "--", ...argv];
}

/** The environment an ordinary login would give diyc: no DIYC_* of the test runner's. */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/nonexistent", ...extra };
}

/** bin/diyc as the user, with `root` as the store. */
export function diycAs(user: TestUser, root: string, args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Result {
  const child = Bun.spawnSync({
    cmd: asUser(user, [DIYC, "--root", root, ...args]),
    env: userEnv(options.env),
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: child.exitCode ?? -1, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}
