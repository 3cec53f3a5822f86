// image import of what other tools write: an OCI layout directory, skopeo's
// oci-archive (a tar of one) and docker-archive (docker save's format), a
// zstd rootfs tarball, each also from stdin; the kind is read from the
// content, whatever the file is called. Then run from what was imported.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { zstdCompressSync } from "node:zlib";
import { diycEnv, isRoot, removeStore } from "../helpers/diyc";
import { diycAsync, SKOPEO } from "../helpers/registry";
import { busyboxEntries, OciLayoutWriter, type Descriptor } from "../fixtures/oci-layout";
import { makeTar } from "../fixtures/tar-writer";

const describeArchives = describe.skipIf(!isRoot || !existsSync(SKOPEO) || !existsSync("/bin/busybox"));

let tmp: string;
let layoutDir: string;
let image: Descriptor & { configDigest: string; diffIds: string[] };

/** diyc with a file on stdin. */
async function diycWithStdin(root: string, args: string[], file: string) {
  const child = Bun.spawn([join(import.meta.dir, "../../bin/diyc"), "--root", root, ...args], {
    stdin: Bun.file(file), stdout: "pipe", stderr: "pipe", env: diycEnv(root),
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}

describeArchives("image import of layouts and archives", () => {
  beforeAll(() => {
    tmp = mkdtempSync("/tmp/diyc-archives-");
    layoutDir = join(tmp, "layout");
    const writer = new OciLayoutWriter(layoutDir);
    image = writer.image({
      layers: [
        { compression: "gzip", entries: [...busyboxEntries(), { name: "etc/motd", content: "bottom" }, { name: "gone", content: "x" }] },
        { compression: "zstd", entries: [{ name: ".wh.gone" }, { name: "etc/motd", content: "top" }] },
      ],
      config: { Cmd: ["cat", "/etc/motd"], Env: ["FROM_IMAGE=1"] },
    });
    // docker-archive has no zstd: the same image with both layers gzip (same diff ids, same config).
    const gzipOnly = writer.image({
      layers: [
        { compression: "gzip", entries: [...busyboxEntries(), { name: "etc/motd", content: "bottom" }, { name: "gone", content: "x" }] },
        { compression: "gzip", entries: [{ name: ".wh.gone" }, { name: "etc/motd", content: "top" }] },
      ],
      config: { Cmd: ["cat", "/etc/motd"], Env: ["FROM_IMAGE=1"] },
    });
    writer.writeIndex({ app: image, "app-gzip": gzipOnly });
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  async function expectRuns(root: string, name: string): Promise<void> {
    const run = await diycAsync(root, ["run", "--rm", "--net", "none", "c", name]);
    expect(run).toMatchObject({ code: 0, stdout: "top", stderr: "" });
    const gone = await diycAsync(root, ["run", "--rm", "--net", "none", "c", name, "sh", "-c", "test -e /gone || echo gone; echo $FROM_IMAGE"]);
    expect(gone.stdout).toBe("gone\n1\n");
  }

  test("an OCI layout directory", async () => {
    const root = mkdtempSync("/tmp/diyc-archives-store-");
    try {
      const result = await diycAsync(root, ["image", "import", layoutDir, "from-dir:1"]);
      expect(result.stderr.split("\n").filter((l) => l.startsWith("diyc:"))).toEqual([]);
      expect(result).toMatchObject({ code: 0, stdout: "from-dir:1\n" });
      expect(readdirSync(join(root, "images/layers")).sort()).toEqual(image.diffIds.map((d) => d.slice(7)).sort());
      await expectRuns(root, "from-dir:1");
      // The same again: nothing new is stored.
      expect((await diycAsync(root, ["image", "import", layoutDir, "again"])).code).toBe(0);
      expect(readdirSync(join(root, "images/layers"))).toHaveLength(2);
      expect(readdirSync(join(root, "images/records"))).toHaveLength(1);
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("skopeo's oci-archive and docker-archive, from a file with a misleading name and from stdin", async () => {
    const root = mkdtempSync("/tmp/diyc-archives-store-");
    // Names that say the opposite of what the files are.
    const ociArchive = join(tmp, "looks-like-docker.tar.gz");
    const dockerArchive = join(tmp, "looks-like-oci.tar");
    try {
      execFileSync(SKOPEO, ["--insecure-policy", "copy", "--quiet", `oci:${layoutDir}:app`, `oci-archive:${ociArchive}:app`], { stdio: "ignore" });
      execFileSync(SKOPEO, ["--insecure-policy", "copy", "--quiet", `oci:${layoutDir}:app-gzip`, `docker-archive:${dockerArchive}:example.org/team/app:7`], { stdio: "ignore" });

      const oci = await diycAsync(root, ["image", "import", ociArchive, "oci:1"]);
      expect(oci).toMatchObject({ code: 0, stdout: "oci:1\n" });
      await expectRuns(root, "oci:1");

      // docker-archive: the name comes from its RepoTags when none is given.
      const docker = await diycAsync(root, ["image", "import", dockerArchive]);
      expect(docker.stderr.split("\n").filter((l) => l.startsWith("diyc:"))).toEqual([]);
      expect(docker).toMatchObject({ code: 0, stdout: "example.org/team/app:7\n" });
      await expectRuns(root, "example.org/team/app:7");
      // Same layers (diff ids), so nothing was stored twice.
      expect(readdirSync(join(root, "images/layers"))).toHaveLength(2);

      // A compressed image archive: unpacked to a file under tmp/ first, read by ranges, removed.
      const compressed = join(tmp, "archive.bin");
      execFileSync("sh", ["-c", `gzip -c "${ociArchive}" > "${compressed}"`]);
      expect(await diycAsync(root, ["image", "import", compressed, "gz:1"])).toMatchObject({ code: 0, stdout: "gz:1\n" });
      await expectRuns(root, "gz:1");

      const fromStdin = await diycWithStdin(root, ["image", "import", "-", "piped:1"], ociArchive);
      expect(fromStdin).toMatchObject({ code: 0, stdout: "piped:1\n" });
      await expectRuns(root, "piped:1");
      expect(readdirSync(join(root, "images/tmp"))).toEqual([]); // the spooled copy is gone
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("a zstd rootfs tarball from stdin; bad input is one line and leaves nothing", async () => {
    const root = mkdtempSync("/tmp/diyc-archives-store-");
    try {
      const rootfs = join(tmp, "rootfs.bin");
      writeFileSync(rootfs, zstdCompressSync(makeTar([...busyboxEntries(), { name: "hello", content: "zstd" }])));
      const imported = await diycWithStdin(root, ["image", "import", "-", "zstd-rootfs"], rootfs);
      expect(imported).toMatchObject({ code: 0, stdout: "zstd-rootfs:latest\n" });
      expect((await diycAsync(root, ["run", "--rm", "--net", "none", "z", "zstd-rootfs", "cat", "/hello"])).stdout).toBe("zstd");
      const before = readdirSync(join(root, "images/layers"));

      const notLayout = join(tmp, "plain-dir");
      mkdirSync(notLayout, { recursive: true });
      const cases: [string[], RegExp][] = [
        [["image", "import", notLayout, "x"], /^diyc: image import .*plain-dir: a directory to import must be an OCI image layout \(with oci-layout and index\.json\)\n$/],
        [["image", "import", rootfs], /^diyc: image import .*rootfs\.bin: a rootfs tarball needs a NAME: diyc image import FILE NAME\n$/],
        [["image", "import", rootfs, "Bad Name"], /^diyc: invalid image reference "Bad Name"/],
        [["image", "import", join(tmp, "missing.tar"), "m"], /^diyc: image import .*missing\.tar: stat .*missing\.tar: no such file or directory \(ENOENT\)\n$/],
      ];
      for (const [args, message] of cases) {
        const r = await diycAsync(root, args);
        expect([args, r.code]).toEqual([args, 125]);
        expect(r.stderr).toMatch(message);
      }
      // A truncated oci-archive: refused, nothing of it stored.
      const archive = join(tmp, "cut.tar");
      execFileSync(SKOPEO, ["--insecure-policy", "copy", "--quiet", `oci:${layoutDir}:app`, `oci-archive:${archive}:app`], { stdio: "ignore" });
      const bytes = readFileSync(archive);
      writeFileSync(archive, bytes.subarray(0, bytes.length - 4096));
      const cut = await diycAsync(root, ["image", "import", archive, "cut"]);
      expect(cut.code).toBe(125);
      expect(cut.stderr.trim().split("\n")).toHaveLength(1);
      expect(readdirSync(join(root, "images/layers"))).toEqual(before);
      expect(readdirSync(join(root, "images/tmp"))).toEqual([]);
      expect(JSON.parse(readFileSync(join(root, "images/refs.json"), "utf8"))).toEqual({ "zstd-rootfs:latest": expect.stringMatching(/^sha256:/) });
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("50 layers: more than a page of full lowerdir paths, mounted through short layer names", async () => {
    const root = mkdtempSync("/tmp/diyc-archives-store-");
    const many = join(tmp, "many");
    try {
      const writer = new OciLayoutWriter(many);
      const layers = [{ compression: "gzip" as const, entries: busyboxEntries() }];
      for (let i = 1; i < 50; i++) layers.push({ compression: "gzip", entries: [{ name: `layer-${i}`, content: `${i}` }, ...(i === 49 ? [{ name: ".wh.layer-1" }] : [])] });
      // The same (empty) layer three times, as images often have: mounted once.
      for (let i = 0; i < 3; i++) layers.splice(10 + 5 * i, 0, { compression: "gzip", entries: [] });
      writer.writeIndex({ many: writer.image({ layers, config: { Cmd: ["sh", "-c", "cat /layer-2 /layer-49; ls / | grep -c layer-"] } }) });
      expect((await diycAsync(root, ["image", "import", many, "many"])).code).toBe(0);
      const run = await diycAsync(root, ["run", "--rm", "--net", "none", "-v", "m", "many"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe("24948\n"); // "2" "49", and 48 layer files (layer-1 deleted by the top layer)
      expect(run.stderr).toContain(`lowerdir=${join(root, "images/l/")}`);
      expect(readdirSync(join(root, "images/l"))).toHaveLength(51);
      expect((await diycAsync(root, ["image", "rm", "many"])).code).toBe(0);
      expect(readdirSync(join(root, "images/l"))).toEqual([]);
    } finally {
      removeStore(root);
    }
  }, 60_000);
});
