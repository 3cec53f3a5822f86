// A large image (one gzip layer: 256 MiB of zeros, sparse on disk, and 32 MiB
// of random bytes) pulled from a real registry and imported from an OCI
// archive: peak RSS stays under 100 MiB (measured by /usr/bin/time), so
// nothing is held whole in memory; a pull killed with SIGKILL half-way
// leaves nothing that is used, and the next pull works and sweeps it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { DIYC, diycEnv, isRoot, removeStore } from "../helpers/diyc";
import { diycAsync, push, SKOPEO, startRegistry, type RunningRegistry } from "../helpers/registry";
import { OciLayoutWriter, type Descriptor } from "../fixtures/oci-layout";

const haveTools = ["/usr/bin/docker-registry", "/usr/bin/skopeo", "/usr/bin/time"].every((f) => existsSync(f));
const describeLarge = describe.skipIf(!isRoot || !haveTools);

const ZEROES_MIB = 256;
const RANDOM_MIB = 32;
const RSS_LIMIT_KIB = 100 * 1024;

let tmp: string;
let registry: RunningRegistry;
let layoutDir: string;
let image: Descriptor;
let diffId: string;

/** Runs diyc under /usr/bin/time: its exit code and peak RSS in KiB. */
async function measured(root: string, args: string[]): Promise<{ code: number; maxRssKib: number; stderr: string }> {
  const child = Bun.spawn(["/usr/bin/time", "-f", "MAXRSS %M", DIYC, "--root", root, ...args], {
    stdin: "ignore", stdout: "ignore", stderr: "pipe", env: diycEnv(root),
  });
  const stderr = await new Response(child.stderr).text();
  const code = await child.exited;
  const rss = /MAXRSS (\d+)/.exec(stderr);
  return { code, maxRssKib: Number(rss?.[1]), stderr };
}

describeLarge("a large image", () => {
  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/diyc-large-");
    const source = join(tmp, "src");
    mkdirSync(source);
    execFileSync("truncate", ["-s", `${ZEROES_MIB}M`, join(source, "zeroes")]);
    execFileSync("sh", ["-c", `head -c ${RANDOM_MIB}M /dev/urandom > "${join(source, "random")}"`]);
    const tar = join(tmp, "layer.tar");
    execFileSync("tar", ["-C", source, "--numeric-owner", "-cf", tar, "."]);
    diffId = `sha256:${execFileSync("sha256sum", [tar], { encoding: "utf8" }).slice(0, 64)}`;
    execFileSync("gzip", ["-1", tar]);
    rmSync(source, { recursive: true });
    layoutDir = join(tmp, "layout");
    const writer = new OciLayoutWriter(layoutDir);
    const layer = writer.layerFile(`${tar}.gz`, "application/vnd.oci.image.layer.v1.tar+gzip", diffId);
    image = writer.imageFromLayers([layer]);
    writer.writeIndex({ big: image });
    registry = await startRegistry(join(tmp, "registry"));
    await push(layoutDir, "big", `${registry.host}/test/big:1`, ["--dest-tls-verify=false"]);
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  function expectLayerOnDisk(root: string): void {
    const layerRoot = join(root, "images/layers", diffId.slice(7), "root");
    expect(statSync(join(layerRoot, "zeroes")).size).toBe(ZEROES_MIB << 20);
    expect(statSync(join(layerRoot, "zeroes")).blocks).toBe(0); // holes stay holes
    expect(statSync(join(layerRoot, "random")).size).toBe(RANDOM_MIB << 20);
  }

  test(`pull: peak RSS under ${RSS_LIMIT_KIB / 1024} MiB`, async () => {
    const root = mkdtempSync("/tmp/diyc-large-store-");
    try {
      const result = await measured(root, ["pull", "-q", "--insecure-registry", registry.host, `${registry.host}/test/big:1`]);
      expect(result.stderr).not.toContain("diyc:");
      expect(result.code).toBe(0);
      console.log(`pull of a ${ZEROES_MIB + RANDOM_MIB} MiB layer: peak RSS ${(result.maxRssKib / 1024).toFixed(1)} MiB`);
      expect(result.maxRssKib).toBeGreaterThan(0);
      expect(result.maxRssKib).toBeLessThan(RSS_LIMIT_KIB);
      expectLayerOnDisk(root);
    } finally {
      removeStore(root);
    }
  }, 120_000);

  test(`import of an OCI archive (skopeo's oci-archive:): peak RSS under ${RSS_LIMIT_KIB / 1024} MiB`, async () => {
    const root = mkdtempSync("/tmp/diyc-large-store-");
    const archive = join(tmp, "big-oci.tar");
    try {
      execFileSync(SKOPEO, ["--insecure-policy", "copy", "--quiet", `oci:${layoutDir}:big`, `oci-archive:${archive}:big`], { stdio: "ignore" });
      const result = await measured(root, ["image", "import", archive, "big:imported"]);
      expect(result.stderr).not.toContain("diyc:");
      expect(result.code).toBe(0);
      console.log(`import of the same as an OCI archive: peak RSS ${(result.maxRssKib / 1024).toFixed(1)} MiB`);
      expect(result.maxRssKib).toBeLessThan(RSS_LIMIT_KIB);
      expectLayerOnDisk(root);
      expect(readdirSync(join(root, "images/tmp"))).toEqual([]);
    } finally {
      rmSync(archive, { force: true });
      removeStore(root);
    }
  }, 120_000);

  test("SIGKILL in the middle of a pull: nothing half-made is used; the next pull works and sweeps the rest", async () => {
    const root = mkdtempSync("/tmp/diyc-large-store-");
    try {
      const ref = `${registry.host}/test/big:1`;
      const child = Bun.spawn([DIYC, "--root", root, "pull", "-q", "--insecure-registry", registry.host, ref], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: diycEnv(root) });
      // Killed once the layer is being unpacked (its staging directory has files).
      const staging = join(root, "images/tmp");
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const dirs = existsSync(staging) ? readdirSync(staging).filter((d) => d.startsWith("layer-")) : [];
        if (dirs.some((d) => existsSync(join(staging, d, "root/zeroes")) || existsSync(join(staging, d, "root/random")))) break;
        await Bun.sleep(5);
      }
      expect(child.exitCode).toBeNull(); // killed mid-unpack, not after the pull ended
      child.kill("SIGKILL");
      expect(await child.exited).not.toBe(0);
      expect(readdirSync(staging).length).toBeGreaterThan(0); // what it left
      expect(existsSync(join(root, "images/refs.json"))).toBe(false);
      expect(readdirSync(join(root, "images/layers"))).toEqual([]);
      expect((await diycAsync(root, ["image", "ls"])).stdout.trim().split("\n")).toHaveLength(1);

      const again = await diycAsync(root, ["pull", "-q", "--insecure-registry", registry.host, ref]);
      expect(again.stderr).toBe("");
      expect(again.code).toBe(0);
      expectLayerOnDisk(root);
      expect(readdirSync(staging)).toEqual([]); // the killed pull's staging is swept
    } finally {
      removeStore(root);
    }
  }, 120_000);

  test("prune during a pull waits for it (the images lock), and removes nothing the pull made", async () => {
    const root = mkdtempSync("/tmp/diyc-large-store-");
    try {
      const ref = `${registry.host}/test/big:1`;
      const pulling = Bun.spawn([DIYC, "--root", root, "pull", "-q", "--insecure-registry", registry.host, ref], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
      const staging = join(root, "images/tmp");
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(existsSync(staging) && readdirSync(staging).some((d) => d.startsWith("layer-")))) await Bun.sleep(5);
      // The pull is unpacking now: the prune below runs against a store in the middle of a pull.
      expect(readdirSync(staging).some((d) => d.startsWith("layer-"))).toBe(true);
      // A prune that did not wait would remove the pull's staging directory (tmp/ is its to clean)
      // and the unnamed layer: the pull would fail, or its image would lack the layer.
      const prune = await diycAsync(root, ["image", "prune"]);
      expect(await pulling.exited).toBe(0);
      expect(prune.code).toBe(0);
      expect(prune.stdout).toContain("Removed 0 image(s) and 0 layer(s)");
      expectLayerOnDisk(root);
      expect((await diycAsync(root, ["image", "ls"])).stdout).toContain(`${registry.host}/test/big`);
    } finally {
      removeStore(root);
    }
  }, 120_000);
});
