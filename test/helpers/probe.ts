// Builds test/fixtures/probe.c into a directory of the test's own, to be
// bind-mounted into containers (--volume DIR:/probe:ro). Static, so it runs
// in any image.

import { join } from "node:path";
import { REPO } from "./diyc";

export function buildProbe(dir: string): string {
  const out = join(dir, "probe");
  const cc = Bun.which("musl-gcc") ? ["musl-gcc", "-I", join(REPO, "native/build/kernel-headers")] : ["cc"];
  const build = Bun.spawnSync([...cc, "-static", "-O2", "-o", out, join(REPO, "test/fixtures/probe.c")]);
  if (build.exitCode !== 0) throw new Error(`building the probe failed: ${build.stderr.toString()}`);
  return out;
}
