// --userns=auto: root in the container is not root on the host. Checked from
// inside (ids, ownership, what root can do) and from the host (the init's
// uid, what lands on disk, the range claimed and given back).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { diyc, isRoot, removeStore, tempStore } from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;
let dir: string;
let env: Record<string, string>;
beforeAll(() => {
  root = tempStore("diyc-userns-");
  dir = mkdtempSync("/tmp/diyc-userns-files-");
  // Subordinate ids of the test's own: two ranges of 65536 for "diyc" (the host's /etc/subuid is left alone).
  writeFileSync(join(dir, "subuid"), "someone:100000:65536\ndiyc:700000:131072\n");
  writeFileSync(join(dir, "subgid"), "diyc:700000:131072\n");
  env = { DIYC_SUBUID: join(dir, "subuid"), DIYC_SUBGID: join(dir, "subgid") };
});
afterAll(() => {
  removeStore(root);
  rmSync(dir, { recursive: true, force: true });
});

const run = (args: string[]) => diyc(root, args, { env });
const initPid = (name: string) => JSON.parse(readFileSync(join(root, "containers", name, "state.json"), "utf8")).init.pid as number;
const claims = () => {
  const registry = join(root, "network", ".userns");
  try {
    return readdirSync(registry).sort();
  } catch {
    return [];
  }
};

describeRoot("--userns=auto", () => {
  test("root inside is a host uid of the container's range; the image's files are root's; writes land as the host's root", () => {
    expect(run(["run", "-d", "--userns", "auto", "--name", "u1", "busybox", "sh", "-c", "echo made > /root/file; sleep 30"]).code).toBe(0);
    try {
      const inside = run(["exec", "u1", "sh", "-c", "id -u; cat /proc/self/uid_map | tr -s ' '; stat -c %u:%g /etc/passwd /bin/sh; cat /root/file"]);
      expect(inside.stdout).toBe("0\n 0 700000 65536\n0:0\n0:0\nmade\n");
      // From the host: the init runs as uid 700000, not 0.
      expect(readFileSync(`/proc/${initPid("u1")}/status`, "utf8")).toMatch(/^Uid:\t700000\t700000\t700000\t700000$/m);
      // On disk, in the container's writable layer: owned by the host's root (idmapped), as without a user namespace.
      expect(statSync(join(root, "containers", "u1", "upper", "root", "file")).uid).toBe(0);
      expect(claims()).toEqual(["700000"]);
      // A second container gets the next range.
      expect(run(["run", "--rm", "--userns", "auto", "--name", "u2", "busybox", "cat", "/proc/self/uid_map"]).stdout.trim().split(/\s+/)).toEqual(["0", "765536", "65536"]);
    } finally {
      expect(run(["rm", "-f", "u1"]).code).toBe(0);
    }
    expect(claims()).toEqual([]); // given back with the container
  });

  test("volumes are idmapped (the host's root-owned files are root's inside) and a read-only one stays read-only; limits and --net none work", () => {
    const host = join(dir, "vol");
    mkdirSync(host);
    writeFileSync(join(host, "mine"), "host data\n");
    const r = run(["run", "--rm", "--userns", "auto", "--net", "none", "-m", "64", "--volume", `${host}:/vol:ro`, "--name", "u3", "busybox", "sh", "-c",
      "stat -c %u /vol/mine; echo x > /vol/mine 2>&1 || echo refused; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ip -o link | cut -d: -f2 | tr -d ' '"]);
    expect(r.code).toBe(0);
    // Idmapped: the host's root-owned file is root's inside; the read-only volume stays read-only.
    expect(r.stdout).toBe("0\nrefused\n67108864\nlo\n");
    expect(readFileSync(join(host, "mine"), "utf8")).toBe("host data\n");
  });

  test("without subordinate ids: one line, 125, nothing made; --userns with another value is refused", () => {
    const none = diyc(root, ["run", "--rm", "--userns", "auto", "--name", "u4", "busybox", "true"], { env: { DIYC_SUBUID: join(dir, "missing"), DIYC_SUBGID: join(dir, "missing") } });
    expect(none.code).toBe(125);
    expect(none.stderr).toMatch(/^diyc: --userns=auto needs subordinate ids: .*\n$/);
    expect(diyc(root, ["ps", "-aq"]).stdout).not.toContain("u4");
    expect(run(["run", "--rm", "--userns", "keep-id", "--name", "u5", "busybox", "true"])).toMatchObject({ code: 125 });
  });
});
