// `diyc-oci run` against `runc run` and `crun run`: three OCI runtimes, the
// same bundle (busybox /bin/true, new pid/mount/uts/ipc/network/cgroup
// namespaces, read-only root, no terminal), interleaved run by run.
//
//   node_modules/.bin/bun bench/oci-run.ts [--runs N] [--warmup N]
//
// Needs root, runc, crun and /bin/busybox (apt-get install -y runc crun busybox-static).
// crun refuses this hybrid host (a cgroup2 mount beside the v1 controllers),
// so the whole bench re-runs itself in a private mount namespace with
// /sys/fs/cgroup/unified unmounted: all three runtimes see the same v1-only
// cgroup setup there, and the host's mounts are untouched. The figure that
// matters is the ratio of medians. Results: bench/results/oci-run.md.

import { spawnSync } from "bun";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpuCount, f1, kernelRelease, makeUsage, median, mountsUnder, parseFlags, percentile, REPO, timedRun, unifiedCgroupMounted, withoutUnifiedCgroup } from "./lib";

const RESULTS = join(import.meta.dir, "results", "oci-run.md");
const usage = makeUsage("oci-run", "usage: bun bench/oci-run.ts [--runs N] [--warmup N]");
const options = { runs: 40, warmup: 5 };
const argv = process.argv.slice(2).filter((a) => a !== "--inner");
parseFlags(argv, usage, {
  "--runs": (args) => { options.runs = args.count(); },
  "--warmup": (args) => { options.warmup = args.count(); },
});

if (process.getuid?.() !== 0) usage("needs root");
if (!process.argv.includes("--inner") && unifiedCgroupMounted()) {
  // Re-run in a private mount namespace without the cgroup2 mount (see above).
  const child = spawnSync(withoutUnifiedCgroup([process.execPath, import.meta.path, ...argv, "--inner"]), { stdio: ["inherit", "inherit", "inherit"] });
  process.exit(child.exitCode ?? 1);
}

function which(name: string): string {
  for (const dir of ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    const path = join(dir, name);
    if (spawnSync(["test", "-x", path]).success) return path;
  }
  return usage(`${name} is not installed`);
}

const tmp = mkdtempSync("/tmp/diyc-bench-oci-");
const bundle = join(tmp, "bundle");
const rootfs = join(bundle, "rootfs");
for (const d of ["bin", "proc", "sys", "dev", "tmp", "etc"]) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
chmodSync(join(rootfs, "bin/busybox"), 0o755);
symlinkSync("busybox", join(rootfs, "bin/true"));
const runc = which("runc");
const crun = which("crun");
spawnSync([runc, "spec", "--bundle", bundle]);
const config = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
config.process.terminal = false;
config.process.args = ["/bin/true"];
config.root.readonly = true;
config.linux.namespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup"].map((type) => ({ type }));
writeFileSync(join(bundle, "config.json"), JSON.stringify(config, null, 2));

const roots = { diyc: join(tmp, "diyc-oci"), runc: join(tmp, "runc"), crun: join(tmp, "crun") };
const DIYC_OCI = join(REPO, "bin/diyc-oci");
const commands = {
  "diyc-oci": (id: string) => [DIYC_OCI, "--root", roots.diyc, "run", "--bundle", bundle, id],
  runc: (id: string) => [runc, "--root", roots.runc, "run", "--bundle", bundle, id],
  crun: (id: string) => [crun, "--root", roots.crun, "run", "--bundle", bundle, id],
};
type Name = keyof typeof commands;
const names = Object.keys(commands) as Name[];
const times: Record<Name, number[]> = { "diyc-oci": [], runc: [], crun: [] };

let n = 0;
try {
  for (let round = 0; round < options.warmup + options.runs; round++) {
    for (const name of names) {
      const timed = timedRun(commands[name](`diyc-bench-oci-${process.pid}-${n++}`), { stdout: "ignore" });
      if (round >= options.warmup) times[name].push(timed.ms);
    }
  }
} finally {
  if (mountsUnder(tmp).length === 0) rmSync(tmp, { recursive: true, force: true });
}

const head = spawnSync(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).stdout.toString().trim();
const dirty = spawnSync(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"]).stdout.toString().trim() !== "";
const version = (cmd: string) => spawnSync([cmd, "--version"]).stdout.toString().split("\n")[0]!.trim();
const row = (name: Name) =>
  `| \`${name} run\` | ${f1(median(times[name]))} ms | ${f1(percentile(times[name], 10))} ms | ${f1(percentile(times[name], 90))} ms |`;
const report = `# \`diyc-oci run\` against \`runc run\` and \`crun run\`

${new Date().toISOString()}, commit ${head}${dirty ? " (with uncommitted changes)" : ""}, kernel ${kernelRelease()}, ${cpuCount()} CPUs.
${options.runs} interleaved runs of each after ${options.warmup} warm-ups; the same bundle
(busybox \`/bin/true\`; new pid, mount, uts, ipc, network and cgroup namespaces;
read-only root; no terminal); all three in one private mount namespace without
the cgroup2 mount (crun refuses the hybrid host). Wall time from spawn to exit,
create + start + wait + delete. ${version(runc)}; ${version(crun)}.

| | median | p10 | p90 |
|---|---:|---:|---:|
${names.map(row).join("\n")}

**diyc-oci / runc: ${(median(times["diyc-oci"]) / median(times.runc)).toFixed(2)}×; diyc-oci / crun: ${(median(times["diyc-oci"]) / median(times.crun)).toFixed(2)}×** (ratios of medians).
`;
mkdirSync(join(import.meta.dir, "results"), { recursive: true });
writeFileSync(RESULTS, report);
console.log(report);
