// Pull and import throughput: diyc against skopeo + umoci and podman, from
// the same local registry (Debian's docker-registry on 127.0.0.1), with the
// same image: three gzip layers made from this machine's files (Python's
// standard library, /usr/share/doc, /usr/share/locale: many small files, as
// real images have). Each tool starts from an empty store every run; the
// runs alternate, so a noisy neighbour slows all alike.
//
//   diyc pull                 registry -> unpacked layers in diyc's store
//   skopeo copy + umoci unpack  registry -> OCI layout -> one unpacked rootfs
//   podman pull               registry -> containers/storage (overlay driver)
//   diyc image import DIR     OCI layout -> unpacked layers (no network)
//   umoci unpack              OCI layout -> rootfs (no network)
//
// Usage: node_modules/.bin/bun bench/images.ts [--runs N]   (root; docker-registry, skopeo, umoci, podman)

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { OciLayoutWriter } from "../test/fixtures/oci-layout";
import { push, startRegistry } from "../test/helpers/registry";

const REPO = resolve(import.meta.dir, "..");
const DIYC = join(REPO, "bin/diyc");
const runsFlag = process.argv.indexOf("--runs");
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 3;
const SOURCES = ["/usr/lib/python3.11", "/usr/share/doc", "/usr/share/locale"].filter((d) => existsSync(d));

for (const tool of ["/usr/bin/docker-registry", "/usr/bin/skopeo", "/usr/bin/umoci", "/usr/bin/podman", "/usr/bin/time"]) {
  if (!existsSync(tool)) {
    console.error(`bench/images.ts: needs ${tool} (apt-get install -y docker-registry skopeo umoci podman time)`);
    process.exit(2);
  }
}

const tmp = mkdtempSync("/tmp/diyc-bench-images-");
const sh = (cmd: string[]) => execFileSync(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });

interface Sample {
  seconds: number;
  maxRssMiB: number;
}

/** Wall time and peak RSS (of the command and the children it waited for) of one run. */
function timed(cmd: string[]): Sample {
  const start = performance.now();
  const child = spawnSync("/usr/bin/time", ["-f", "MAXRSS %M", ...cmd], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const seconds = (performance.now() - start) / 1000;
  if (child.status !== 0) throw new Error(`${cmd.join(" ")} failed: ${child.stderr}`);
  return { seconds, maxRssMiB: Number(/MAXRSS (\d+)/.exec(child.stderr)?.[1]) / 1024 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function duBytes(dir: string): number {
  return Number(sh(["du", "-sb", dir]).split("\t")[0]);
}

async function main(): Promise<void> {
  console.error(`building the image from ${SOURCES.join(", ")} ...`);
  const layoutDir = join(tmp, "layout");
  const writer = new OciLayoutWriter(layoutDir);
  const layers = SOURCES.map((source, i) => {
    const tar = join(tmp, `layer${i}.tar`);
    sh(["tar", "--numeric-owner", "-C", "/", "-cf", tar, source.slice(1)]);
    const diffId = `sha256:${sh(["sha256sum", tar]).slice(0, 64)}`;
    sh(["gzip", "-6", tar]);
    return writer.layerFile(`${tar}.gz`, "application/vnd.oci.image.layer.v1.tar+gzip", diffId);
  });
  const image = writer.imageFromLayers(layers);
  writer.writeIndex({ bench: image });
  const compressed = layers.reduce((sum, l) => sum + l.descriptor.size, 0);
  const registry = await startRegistry(join(tmp, "registry"));
  try {
    const ref = `${registry.host}/bench/image:1`;
    await push(layoutDir, "bench", ref, ["--dest-tls-verify=false"]);
    let unpacked = 0;
    const samples: Record<string, Sample[]> = {};
    const record = (name: string, s: Sample) => (samples[name] ??= []).push(s);
    for (let run = 0; run < RUNS; run++) {
      console.error(`run ${run + 1}/${RUNS}`);
      const work = join(tmp, `run${run}`);
      mkdirSync(work);
      // diyc pull
      const diycRoot = join(work, "diyc");
      record("diyc pull", timed([DIYC, "--root", diycRoot, "pull", "-q", "--insecure-registry", registry.host, ref]));
      unpacked = duBytes(join(diycRoot, "images/layers"));
      rmSync(diycRoot, { recursive: true, force: true });
      // skopeo + umoci
      const oci = join(work, "oci");
      const start = performance.now();
      const copy = timed(["/usr/bin/skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${oci}:bench`]);
      const unpack = timed(["/usr/bin/umoci", "unpack", "--image", `${oci}:bench`, join(work, "bundle")]);
      record("skopeo copy + umoci unpack", { seconds: (performance.now() - start) / 1000, maxRssMiB: Math.max(copy.maxRssMiB, unpack.maxRssMiB) });
      rmSync(join(work, "bundle"), { recursive: true, force: true });
      // podman, with a store of its own
      const podmanRoot = join(work, "podman");
      record("podman pull", timed([
        "/usr/bin/podman", "--root", join(podmanRoot, "root"), "--runroot", join(podmanRoot, "run"), "--storage-driver", "overlay",
        "--cgroup-manager", "cgroupfs", "--events-backend", "none",
        "pull", "--quiet", "--tls-verify=false", `docker://${ref}`,
      ]));
      spawnSync("/usr/bin/podman", ["--root", join(podmanRoot, "root"), "--runroot", join(podmanRoot, "run"), "--storage-driver", "overlay", "system", "reset", "--force"], { stdio: "ignore" });
      rmSync(podmanRoot, { recursive: true, force: true });
      // imports from the OCI layout (no network)
      record("diyc image import (OCI layout dir)", timed([DIYC, "--root", diycRoot, "image", "import", oci, "bench:1"]));
      rmSync(diycRoot, { recursive: true, force: true });
      record("umoci unpack (OCI layout dir)", timed(["/usr/bin/umoci", "unpack", "--image", `${oci}:bench`, join(work, "bundle")]));
      rmSync(work, { recursive: true, force: true });
    }
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => l.includes(tmp));
    if (mounts.length > 0) throw new Error(`mounts left under ${tmp}: ${mounts.join("; ")}`);
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    const lines = [
      "# Image pull and import throughput",
      "",
      `${new Date().toISOString().slice(0, 10)}, kernel ${sh(["uname", "-r"]).trim()}, ${sh(["/usr/bin/skopeo", "--version"]).trim()}, ` +
        `umoci ${sh(["/usr/bin/umoci", "--version"]).trim().split(" ").at(-1)}, ${sh(["/usr/bin/podman", "--version"]).trim()}, diyc ${sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).trim()}.`,
      "",
      `Image: ${layers.length} gzip layers from ${SOURCES.join(", ")}: ${mib(compressed)} MiB compressed, ${mib(unpacked)} MiB unpacked; ` +
        `registry: docker-registry on 127.0.0.1. ${RUNS} alternating runs, each from an empty store; medians.`,
      "",
      "| what | median time | compressed MiB/s | peak RSS (MiB) |",
      "|---|---:|---:|---:|",
      ...Object.entries(samples).map(([name, s]) => {
        const t = median(s.map((x) => x.seconds));
        return `| ${name} | ${t.toFixed(2)} s | ${(compressed / 2 ** 20 / t).toFixed(0)} | ${median(s.map((x) => x.maxRssMiB)).toFixed(0)} |`;
      }),
      "",
    ];
    const report = lines.join("\n");
    console.log(report);
    mkdirSync(join(REPO, "bench/results"), { recursive: true });
    writeFileSync(join(REPO, "bench/results/images.md"), report);
  } finally {
    await registry.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
