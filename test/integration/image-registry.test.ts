// Pull from a real registry (Debian's docker-registry, started here on
// 127.0.0.1 with a store of its own), filled by skopeo from OCI layouts
// built here: several layers (gzip, zstd, plain), a whiteout, an opaque
// directory, a hard link, a config with Entrypoint/Cmd/Env/WorkingDir/User,
// a multi-platform index. Then what a user checks: files from inside the
// container, layers on disk, digest mismatch, SIGKILL mid-pull, rm in use.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { DIYC, isRoot, mountsUnder, removeStore } from "../helpers/diyc";
import { busyboxEntries, OciLayoutWriter, type Descriptor } from "../fixtures/oci-layout";
import { diycAsync, push, startRegistry, type RunningRegistry } from "../helpers/registry";
import type { FixtureEntry } from "../fixtures/tar-writer";

const haveTools = existsSync("/usr/bin/docker-registry") && existsSync("/usr/bin/skopeo") && existsSync("/bin/busybox");
const describeRegistry = describe.skipIf(!isRoot || !haveTools);

const PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/home/app:/bin/sh\n";
const GROUP = "root:x:0:\napp:x:1234:\nextra:x:2000:app\n";

/** The bottom layer: busybox, accounts, files the upper layers delete or hide. */
function baseLayer(): FixtureEntry[] {
  return [
    ...busyboxEntries(),
    { name: "etc/passwd", content: PASSWD },
    { name: "etc/group", content: GROUP },
    { name: "data/", type: "dir" },
    { name: "data/old.txt", content: "old" },
    { name: "data/keep.txt", content: "keep" },
    { name: "opaque/", type: "dir" },
    { name: "opaque/hidden.txt", content: "hidden" },
  ];
}

const APP_CONFIG = {
  Entrypoint: ["/bin/sh", "-c"],
  Cmd: ["echo default-cmd; id -u; id -g; id -G; pwd; echo $GREETING; echo $HOME"],
  Env: ["GREETING=hello", "PATH=/bin"],
  WorkingDir: "/home/app",
  User: "app",
  StopSignal: "SIGQUIT",
  ExposedPorts: { "8080/tcp": {} },
  Labels: { "org.example.test": "yes" },
};

let tmp: string;
let registry: RunningRegistry;
let layoutDir: string;
let app: Descriptor & { configDigest: string; diffIds: string[] };
let sibling: Descriptor & { configDigest: string; diffIds: string[] };

describeRegistry("pull from a local registry (plain HTTP)", () => {
  let root: string;
  let ref: string;

  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/diyc-registry-test-");
    registry = await startRegistry(join(tmp, "registry"));
    layoutDir = join(tmp, "layout");
    const writer = new OciLayoutWriter(layoutDir);
    const base = { entries: baseLayer(), compression: "gzip" as const };
    app = writer.image({
      layers: [
        base,
        {
          compression: "zstd",
          entries: [
            { name: "data/.wh.old.txt" },
            { name: "opaque/.wh..wh..opq" },
            { name: "opaque/new.txt", content: "new" },
            { name: "links/", type: "dir" },
            { name: "links/original", content: "linked" },
            { name: "links/hard", type: "hardlink", linkname: "links/original" },
            { name: "home/", type: "dir" },
            { name: "home/app/", type: "dir", uid: 1234, gid: 1234, mode: 0o750 },
          ],
        },
        { compression: "none", entries: [{ name: "top.txt", content: "from the top layer" }] },
      ],
      config: APP_CONFIG,
    });
    // Shares the bottom layer with app: it must be stored once.
    sibling = writer.image({ layers: [base, { compression: "gzip", entries: [{ name: "sibling.txt", content: "sib" }] }] });
    const amd64 = writer.image({ layers: [base, { compression: "gzip", entries: [{ name: "arch", content: "amd64" }] }], architecture: "amd64" });
    const arm64 = writer.image({ layers: [{ compression: "gzip", entries: [{ name: "arch", content: "arm64" }] }], architecture: "arm64" });
    const multi = writer.index([amd64, arm64]);
    writer.writeIndex({ app, sibling, multi });
    for (const tag of ["app", "sibling", "multi"]) await push(layoutDir, tag, `${registry.host}/test/${tag}:1`, ["--dest-tls-verify=false"]);
    ref = `${registry.host}/test/app:1`;
  });

  afterAll(async () => {
    await registry?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const fresh = () => mkdtempSync("/tmp/diyc-registry-store-");
  const pull = (r: string, ...extra: string[]) => diycAsync(root, ["pull", "--insecure-registry", registry.host, ...extra, r]);
  const layerDirs = () => readdirSync(join(root, "images/layers"));

  test("pull, then run: every layer's files, whiteouts, opaque dir, hard link, config", async () => {
    root = fresh();
    try {
      const pulled = await pull(ref);
      expect(pulled.stderr).not.toContain("diyc:");
      expect(pulled.code).toBe(0);
      expect(pulled.stdout.trim()).toBe(app.configDigest);
      // Without a terminal: one line per layer.
      expect(pulled.stderr.split("\n").filter((l) => /^layer [a-f0-9]{12}: .* done$/.test(l))).toHaveLength(3);
      expect(layerDirs().sort()).toEqual(app.diffIds.map((d) => d.slice(7)).sort());

      // The image's Entrypoint + Cmd, as user app (from its /etc/passwd), in its WorkingDir, with its Env.
      const byDefault = await diycAsync(root, ["run", "--rm", "--net", "none", "c1", ref]);
      expect(byDefault.stderr).toBe("");
      expect(byDefault.stdout).toBe("default-cmd\n1234\n1234\n1234 2000\n/home/app\nhello\n/home/app\n");

      // A command after the image replaces Cmd (the Entrypoint sh -c stays); -u and -w override.
      const script = "cat /data/keep.txt; echo; ls /data; ls /opaque; stat -c %h /links/hard; cat /links/hard; echo; cat /top.txt; echo; id -u; pwd";
      const inside = await diycAsync(root, ["run", "--rm", "--net", "none", "-u", "0", "-w", "/data", "c2", ref, script]);
      expect(inside.stderr).toBe("");
      expect(inside.stdout).toBe("keep\nkeep.txt\nnew.txt\n2\nlinked\nfrom the top layer\n0\n/data\n");

      // --entrypoint replaces the Entrypoint and drops the image's Cmd; -e overrides Env; a user by name:group.
      const entry = await diycAsync(root, ["run", "--rm", "--net", "none", "--entrypoint", "/bin/sh", "-e", "GREETING=bye", "-u", "app:extra", "c3", ref, "-c", "echo $GREETING; id -u; id -g"]);
      expect(entry.stdout).toBe("bye\n1234\n2000\n");

      // A user the image does not have: one line, 125, no container.
      const nobody = await diycAsync(root, ["run", "--rm", "--net", "none", "-u", "ghost", "c4", ref]);
      expect(nobody).toMatchObject({ code: 125, stderr: "diyc: unable to find user ghost: no matching entries in the image's /etc/passwd\n" });
      expect(existsSync(join(root, "containers/c4"))).toBe(false);

      // inspect keeps what the spec cannot say: ports, labels, stop signal.
      expect((await diycAsync(root, ["run", "--net", "none", "kept", ref, "true"])).code).toBe(0);
      const [inspected] = JSON.parse((await diycAsync(root, ["inspect", "kept"])).stdout);
      expect(inspected.config.request.imageConfig).toEqual({
        id: app.configDigest, stopSignal: "SIGQUIT", exposedPorts: ["8080/tcp"], labels: { "org.example.test": "yes" },
      });
      // stop sends the image's StopSignal (SIGQUIT): the shell traps it and exits 0; SIGTERM would be
      // ignored by a pid 1 without a handler and end in SIGKILL after -t (137).
      const detached = await diycAsync(root, ["run", "-d", "--net", "none", "quitter", ref, "trap 'exit 0' QUIT; while true; do sleep 0.1; done"]);
      expect(detached.code).toBe(0);
      await Bun.sleep(300);
      expect((await diycAsync(root, ["stop", "-t", "5", "quitter"])).code).toBe(0);
      const [stopped] = JSON.parse((await diycAsync(root, ["inspect", "quitter"])).stdout);
      expect(stopped).toMatchObject({ status: "exited", exitCode: 0 });
      expect((await diycAsync(root, ["rm", "quitter"])).code).toBe(0);

      // The layers on disk never changed: the container wrote to its own upper dir.
      expect(existsSync(join(root, "images/layers", app.diffIds[0]!.slice(7), "root/data/old.txt"))).toBe(true);
      const whiteout = statSync(join(root, "images/layers", app.diffIds[1]!.slice(7), "root/data/old.txt"));
      expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);

      // image rm of an image a container uses: refused; after the container goes, it works.
      const refused = await diycAsync(root, ["image", "rm", ref]);
      expect(refused).toMatchObject({ code: 125, stderr: `diyc: image ${ref} is used by container kept: remove it first (or use -f)\n` });
      expect(layerDirs()).toHaveLength(3);
      expect((await diycAsync(root, ["rm", "kept"])).code).toBe(0);
      const removed = await diycAsync(root, ["image", "rm", ref]);
      expect(removed.code).toBe(0);
      expect(layerDirs()).toEqual([]);
      expect(mountsUnder(root)).toEqual([]);
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("a layer two images share is stored once; ls shows unique and shared sizes", async () => {
    root = fresh();
    try {
      expect((await pull(ref)).code).toBe(0);
      const second = await pull(`${registry.host}/test/sibling:1`);
      expect(second.code).toBe(0);
      // The shared bottom layer, by its digest (progress.ts names a layer by 12 hex digits).
      expect(sibling.diffIds[0]).toBe(app.diffIds[0]);
      const siblingManifest = JSON.parse(readFileSync(join(layoutDir, "blobs/sha256", sibling.digest.slice(7)), "utf8"));
      const shared = (siblingManifest.layers[0].digest as string).slice(7, 19);
      expect(second.stderr.split("\n").filter((l) => l.endsWith("already stored"))).toEqual([`layer ${shared}: already stored`]);
      expect(layerDirs()).toHaveLength(4); // 3 + 2, one shared
      const ls = (await diycAsync(root, ["image", "ls"])).stdout.trim().split("\n");
      expect(ls).toHaveLength(3);
      const siblingRow = ls.find((l) => l.includes("test/sibling"))!.split(/\s{3,}/);
      // REPOSITORY TAG ID CREATED SIZE UNIQUE SHARED: the shared part is the busybox layer (~1 MB).
      expect(siblingRow[6]).toMatch(/^\d(\.\d)?MB$/);
      expect(siblingRow[5]).toMatch(/^\d+(\.\d)?kB$/);
      expect((await diycAsync(root, ["run", "--rm", "--net", "none", "s", `${registry.host}/test/sibling:1`, "cat", "/sibling.txt"])).stdout).toBe("sib");
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("on a terminal, pull draws a bar per layer and a total", async () => {
    root = fresh();
    try {
      const command = `${DIYC} --root ${root} pull --insecure-registry ${registry.host} ${ref}`;
      const child = Bun.spawn(["script", "-qfec", command, "/dev/null"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const terminal = await new Response(child.stdout).text();
      expect(await child.exited).toBe(0);
      expect(terminal).toContain("\u001b[?25l"); // cli-progress hides the cursor while it draws (a small pull ends before a redraw)
      expect(terminal).toMatch(/total\s+\[█+\] [\d.]+[kM]B \/ [\d.]+[kM]B/);
      for (const layer of JSON.parse(readFileSync(join(layoutDir, "blobs/sha256", app.digest.slice(7)), "utf8")).layers) {
        expect(terminal).toContain(`${layer.digest.slice(7, 19)}  [`);
      }
      expect(terminal).toContain(app.configDigest);
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("two pulls of the same image at once: both succeed, each layer stored once, nothing left in tmp", async () => {
    root = fresh();
    try {
      const results = await Promise.all([pull(ref), pull(ref), pull(`${registry.host}/test/sibling:1`)]);
      expect(results.map((r) => [r.code, r.stderr.includes("diyc:")])).toEqual([[0, false], [0, false], [0, false]]);
      expect(layerDirs()).toHaveLength(4);
      expect(readdirSync(join(root, "images/tmp"))).toEqual([]);
      expect(Object.keys(JSON.parse(readFileSync(join(root, "images/refs.json"), "utf8"))).sort()).toEqual([ref, `${registry.host}/test/sibling:1`]);
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("a multi-platform index: the host's platform by default, another with --platform", async () => {
    root = fresh();
    try {
      const multi = `${registry.host}/test/multi:1`;
      expect((await pull(multi)).code).toBe(0);
      expect((await diycAsync(root, ["run", "--rm", "--net", "none", "m", multi, "cat", "/arch"])).stdout).toBe("amd64");
      expect((await pull(multi, "--platform", "linux/arm64")).code).toBe(0);
      const inspected = JSON.parse((await diycAsync(root, ["image", "inspect", multi])).stdout);
      expect(inspected.config.architecture).toBe("arm64");
      const none = await pull(multi, "--platform", "linux/s390x");
      expect(none.code).toBe(125);
      expect(none.stderr).toEndWith("no image for linux/s390x (the index has: linux/amd64, linux/arm64)\n");
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("run pulls a missing image; bad references and unknown images are one line", async () => {
    root = fresh();
    try {
      const run = await diycAsync(root, ["run", "--rm", "--net", "none", "--insecure-registry", registry.host, "r", ref, "cat /top.txt"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe("from the top layer");
      expect(run.stderr).toStartWith(`Unable to find image ${ref} in the store: pulling it\n`);
      // By digest: the manifest is checked against it, and the name keeps it.
      const byDigest = `${registry.host}/test/app@${app.digest}`;
      const pinned = await pull(byDigest);
      expect(pinned.code).toBe(0);
      expect(pinned.stdout.trim()).toBe(app.configDigest);
      expect((await diycAsync(root, ["run", "--rm", "--net", "none", "d", byDigest, "cat /top.txt"])).stdout).toBe("from the top layer");
      expect((await diycAsync(root, ["image", "ls"])).stdout).toMatch(new RegExp(`${registry.host}/test/app\\s+<none>\\s+${app.configDigest.slice(7, 19)}`));
      const missing = await pull(`${registry.host}/test/nothing:1`);
      expect(missing.code).toBe(125);
      expect(missing.stderr).toMatch(/^diyc: 127\.0\.0\.1:\d+\/test\/nothing: manifest 1: 404 Not Found \(MANIFEST_UNKNOWN|NAME_UNKNOWN/);
      expect(missing.stderr.trim().split("\n")).toHaveLength(1);
      const bad = await diycAsync(root, ["pull", `${registry.host}/a//b`]);
      expect(bad).toMatchObject({ code: 125, stderr: `diyc: invalid image reference "${registry.host}/a//b": the repository is /-separated components of [a-z0-9] joined by . _ __ or -\n` });
    } finally {
      removeStore(root);
    }
  }, 60_000);

  test("a blob corrupted in the registry's storage: the pull fails, says which blob, keeps nothing", async () => {
    root = fresh();
    const corruptRegistry = await startRegistry(join(tmp, "corrupt-registry"));
    try {
      const target = `${corruptRegistry.host}/test/app:1`;
      await push(layoutDir, "app", target, ["--dest-tls-verify=false"]);
      // The plain top layer: its file's contents changed in place, same size, so the tar still parses.
      const layer = JSON.parse(readFileSync(join(layoutDir, "blobs/sha256", app.digest.slice(7)), "utf8")).layers[2].digest as string;
      const data = join(corruptRegistry.storage, "docker/registry/v2/blobs/sha256", layer.slice(7, 9), layer.slice(7), "data");
      const fd = openSync(data, "r+");
      writeSync(fd, Buffer.from("CORRUPT!"), 0, 8, 512);
      closeSync(fd);
      const result = await diycAsync(root, ["pull", "--insecure-registry", corruptRegistry.host, target]);
      expect(result.code).toBe(125);
      const lines = result.stderr.trim().split("\n").filter((l) => l.startsWith("diyc:"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^diyc: ${target.replace(/[.]/g, "\\.")}: layer ${layer}: digest mismatch: expected ${layer}, got sha256:[a-f0-9]{64} \\(\\d+ bytes\\)$`));
      expect(existsSync(join(root, "images/refs.json"))).toBe(false);
      expect(readdirSync(join(root, "images/records"))).toEqual([]);
      // The bad layer is nowhere; the good ones, verified, wait for the next pull (or a prune).
      expect(readdirSync(join(root, "images/layers"))).not.toContain(app.diffIds[2]!.slice(7));
      expect(readdirSync(join(root, "images/tmp"))).toEqual([]);
      expect((await diycAsync(root, ["image", "prune"])).code).toBe(0);
      expect(readdirSync(join(root, "images/layers"))).toEqual([]);
    } finally {
      await corruptRegistry.stop();
      removeStore(root);
    }
  }, 60_000);
});
