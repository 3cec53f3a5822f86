// --volume and --tmpfs: extra mounts, as OCI spec entries. They are checked
// here, before anything is created; the plan compiler mounts them inside the
// root like every other mount (so a symlink in the image cannot redirect them).

import { statSync } from "node:fs";
import { UsageError } from "../linux/errors";
import type { Mount } from "./oci";

function containerPath(path: string, flag: string): string {
  if (!path.startsWith("/") || path.includes("\0") || path.split("/").includes("..")) {
    throw new UsageError(`invalid ${flag} target ${JSON.stringify(path)}: use an absolute path without ".."`);
  }
  // Cleaned as docker cleans it ("/etc/hosts/" and "/etc//./hosts" are
  // /etc/hosts), so every later comparison (the kernel's filesystems below,
  // a volume replacing diyc's /etc/hosts) sees the one spelling.
  const cleaned = `/${path.split("/").filter((part) => part !== "" && part !== ".").join("/")}`;
  if (cleaned === "/") throw new UsageError(`invalid ${flag} target ${JSON.stringify(path)}: the root cannot be replaced`);
  // The kernel's own filesystems: a mount there would hide or replace what
  // the container's isolation is made of (masked /proc paths, read-only /sys,
  // the device allow-list's /dev). docker refuses them too.
  for (const system of ["/proc", "/sys", "/dev"]) {
    if (cleaned === system || cleaned.startsWith(`${system}/`)) {
      throw new UsageError(`invalid ${flag} target ${JSON.stringify(path)}: ${system} belongs to the kernel; mount somewhere else`);
    }
  }
  return cleaned;
}

/** HOST:CTR[:ro|:rw]. The host path must exist (docker would create it; a typo should not). */
export function parseVolume(spec: string): Mount {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3) throw new UsageError(`invalid --volume ${JSON.stringify(spec)}: use HOST:CONTAINER[:ro]`);
  const [source, destination, mode = "rw"] = parts as [string, string, string?];
  if (mode !== "ro" && mode !== "rw") throw new UsageError(`invalid --volume ${JSON.stringify(spec)}: the mode is ro or rw`);
  if (!source.startsWith("/")) throw new UsageError(`invalid --volume ${JSON.stringify(spec)}: the host path must be absolute`);
  try {
    statSync(source);
  } catch {
    throw new UsageError(`invalid --volume ${JSON.stringify(spec)}: ${source} does not exist on the host`);
  }
  return {
    destination: containerPath(destination, "--volume"),
    type: "bind",
    source,
    // rro, not ro: read-only all the way down, mounts under HOST included.
    options: ["rbind", "rprivate", ...(mode === "ro" ? ["rro"] : [])],
  };
}

/** PATH[:OPTIONS], e.g. /run or /tmp:size=64m,mode=1777. */
export function parseTmpfs(spec: string): Mount {
  const colon = spec.indexOf(":");
  const destination = containerPath(colon < 0 ? spec : spec.slice(0, colon), "--tmpfs");
  const extra = colon < 0 ? [] : spec.slice(colon + 1).split(",").filter(Boolean);
  for (const option of extra) {
    if (!/^(size=\d+[kmg]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|ro|rw|noexec|exec|nosuid|nodev)$/.test(option)) {
      throw new UsageError(`invalid --tmpfs option ${JSON.stringify(option)} in ${JSON.stringify(spec)}`);
    }
  }
  return { destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", ...extra] };
}
