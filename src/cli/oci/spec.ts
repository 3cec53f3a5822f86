// diyc-oci spec [--bundle DIR]: writes a default config.json (as `runc spec` does): sh in ./rootfs,
// with diyc's secure defaults. Refuses to overwrite one.

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../linux/errors";
import { last, parseArgs } from "../args";
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_MOUNTS, DEFAULT_PATH, DEFAULT_READONLY_PATHS } from "../../spec/defaults";
import type { OciCommand } from "./context";

export function defaultConfig() {
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: [`PATH=${DEFAULT_PATH}`, "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES, ambient: [] as string[],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "diyc",
    mounts: DEFAULT_MOUNTS.map((m) => (m.type === "cgroup" ? { ...m, options: ["nosuid", "noexec", "nodev", "relatime", "ro"] } : m)),
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "cgroup" }],
      maskedPaths: DEFAULT_MASKED_PATHS,
      readonlyPaths: DEFAULT_READONLY_PATHS,
    },
  };
}

export const spec: OciCommand = async (args) => {
  const parsed = parseArgs(args, [{ long: "bundle", short: "b", value: true }, { long: "rootless" }], false);
  const path = join(last(parsed, "bundle") ?? ".", "config.json");
  if (existsSync(path)) throw new UsageError(`${path} exists already: remove it first`);
  writeFileSync(path, JSON.stringify(defaultConfig(), null, 2) + "\n");
  return 0;
};
