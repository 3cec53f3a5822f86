// Image references, docker's override rules for the image config, users
// through an image's passwd/group, registry challenges, platform choice,
// and the overlay's lowerdir page limit.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../src/linux/errors";
import { fitLowerdirs, MOUNT_OPTIONS_LIMIT } from "../../src/image/images";
import { choosePlatform, parsePlatform, type Index } from "../../src/image/oci-image";
import { parseReference, pullSource } from "../../src/image/reference";
import { parseChallenge } from "../../src/image/registry";
import { applyImageConfig, layerFileReader, readWithoutSymlinks, resolveUser } from "../../src/image/run-config";
import { Store } from "../../src/store/store";

describe("parseReference", () => {
  test("names get an explicit tag; a registry is a host with a dot, a port or localhost", () => {
    expect(parseReference("busybox")).toEqual({ registry: undefined, repository: "busybox", tag: undefined, digest: undefined, name: "busybox:latest" });
    expect(parseReference("team/app:1.2")).toMatchObject({ registry: undefined, repository: "team/app", tag: "1.2", name: "team/app:1.2" });
    expect(parseReference("127.0.0.1:5000/team/app")).toMatchObject({ registry: "127.0.0.1:5000", repository: "team/app", name: "127.0.0.1:5000/team/app:latest" });
    expect(parseReference("localhost/app:x")).toMatchObject({ registry: "localhost", repository: "app" });
    expect(parseReference("example.org/a/b/c:v_1")).toMatchObject({ registry: "example.org", repository: "a/b/c", tag: "v_1" });
    const digest = `sha256:${"a".repeat(64)}`;
    expect(parseReference(`reg.io/app@${digest}`)).toMatchObject({ digest, tag: undefined, name: `reg.io/app@${digest}` });
    expect(parseReference(`reg.io/app:1@${digest}`)).toMatchObject({ digest, tag: "1", name: "reg.io/app:1" });
  });
  test("bad references are usage errors", () => {
    for (const bad of ["", "a//b", "/app", "app:", "app:-x", "app@sha256:abc", "a b", "../x", "app:x/y"]) {
      expect(() => parseReference(bad)).toThrow(UsageError);
    }
  });
  test("Docker Hub gets library/ for one-word names", () => {
    expect(pullSource(parseReference("debian:12"))).toEqual({ registry: "docker.io", repository: "library/debian", reference: "12" });
    expect(pullSource(parseReference("127.0.0.1:5000/app"))).toEqual({ registry: "127.0.0.1:5000", repository: "app", reference: "latest" });
  });
});

describe("applyImageConfig: docker's override rules", () => {
  const config = {
    architecture: "amd64", os: "linux", rootfs: { type: "layers" as const, diff_ids: [] },
    config: { Entrypoint: ["/entry"], Cmd: ["default"], Env: ["A=1", "PATH=/img"], WorkingDir: "/work", StopSignal: "SIGQUIT", ExposedPorts: { "80/tcp": {}, "53/udp": {} }, Labels: { l: "v" } },
  };
  const noFiles = () => undefined;
  test("Entrypoint + Cmd; a command replaces Cmd; --entrypoint drops Cmd; \"\" clears it", () => {
    expect(applyImageConfig(config, { command: [], env: [] }, noFiles).args).toEqual(["/entry", "default"]);
    expect(applyImageConfig(config, { command: ["x", "y"], env: [] }, noFiles).args).toEqual(["/entry", "x", "y"]);
    expect(applyImageConfig(config, { command: [], entrypoint: "/other", env: [] }, noFiles).args).toEqual(["/other"]);
    expect(applyImageConfig(config, { command: ["ls"], entrypoint: "", env: [] }, noFiles).args).toEqual(["ls"]);
    expect(applyImageConfig(undefined, { command: [], env: [] }, noFiles).args).toEqual(["/bin/sh"]);
  });
  test("Env then -e; -w over WorkingDir; the rest kept for stop and inspect", () => {
    const applied = applyImageConfig(config, { command: [], env: ["A=2"], workdir: "/flag" }, noFiles);
    expect(applied.env).toEqual(["A=1", "PATH=/img", "A=2"]);
    expect(applied.cwd).toBe("/flag");
    expect(applied).toMatchObject({ stopSignal: "SIGQUIT", exposedPorts: ["53/udp", "80/tcp"], labels: { l: "v" }, user: undefined });
    expect(applyImageConfig(config, { command: [], env: [] }, noFiles).cwd).toBe("/work");
  });
});

describe("users through the image's files", () => {
  const files: Record<string, string> = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33:www:/var/www:/bin/false\nbroken line\n",
    "/etc/group": "root:x:0:\nwww:x:33:\nlogs:x:4:web,other\nstaff:x:50:\n",
  };
  const read = (path: string) => files[path];
  test("names, ids, groups, supplementary groups, home", () => {
    expect(resolveUser("web", read)).toEqual({ uid: 33, gid: 33, additionalGids: [4], home: "/var/www" });
    expect(resolveUser("web:staff", read)).toEqual({ uid: 33, gid: 50, additionalGids: [], home: "/var/www" });
    expect(resolveUser("33", read)).toMatchObject({ uid: 33, gid: 33 });
    expect(resolveUser("1000", read)).toEqual({ uid: 1000, gid: 1000, additionalGids: [] });
    expect(resolveUser("1000:7", read)).toEqual({ uid: 1000, gid: 7, additionalGids: [] });
  });
  test("unknown names and bad forms are errors", () => {
    expect(() => resolveUser("ghost", read)).toThrow("unable to find user ghost");
    expect(() => resolveUser("web:ghosts", read)).toThrow("unable to find group ghosts");
    expect(() => resolveUser("a:b:c", read)).toThrow("invalid user");
    expect(() => resolveUser("web:", read)).toThrow("invalid user");
  });
});

describe("files through layers, and the lowerdir limit", () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync("/tmp/diyc-layers-unit-");
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  test("the top layer wins; a whiteout hides lower ones; symlinks are not followed", () => {
    const [top, middle, bottom] = ["top", "middle", "bottom"].map((l) => join(tmp, l));
    for (const dir of [top, middle, bottom]) mkdirSync(join(dir!, "etc"), { recursive: true });
    writeFileSync(join(bottom!, "etc/passwd"), "bottom");
    writeFileSync(join(middle!, "etc/passwd"), "middle");
    expect(layerFileReader([top!, middle!, bottom!])("/etc/passwd")).toBe("middle");
    expect(layerFileReader([top!, bottom!])("/etc/group")).toBeUndefined();
    // A symlink, to a file outside the layers (it would resolve on the host): read as absent, not followed.
    writeFileSync(join(tmp, "host-secret"), "secret");
    symlinkSync(join(tmp, "host-secret"), join(top!, "etc/group"));
    expect(layerFileReader([top!, bottom!])("/etc/group")).toBeUndefined();
    // The same for a directory on the way.
    const linked = join(tmp, "linked");
    mkdirSync(linked);
    symlinkSync(join(middle!, "etc"), join(linked, "etc"));
    expect(layerFileReader([linked, bottom!])("/etc/passwd")).toBeUndefined();
    // A whiteout (a 0:0 character device: mknod needs no privilege for it) hides the lower layers' file.
    expect(Bun.spawnSync(["mknod", join(top!, "etc/passwd"), "c", "0", "0"]).exitCode).toBe(0);
    expect(layerFileReader([top!, middle!, bottom!])("/etc/passwd")).toBeUndefined();
  });

  test("read through fds (the race between the walk and the read): a symlinked file or directory, a FIFO, are not read", () => {
    const layer = join(tmp, "layer");
    mkdirSync(join(layer, "etc"), { recursive: true });
    writeFileSync(join(layer, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    expect(readWithoutSymlinks(layer, ["etc", "passwd"])).toBe("root:x:0:0::/root:/bin/sh\n");
    writeFileSync(join(tmp, "host-secret"), "secret");
    symlinkSync(join(tmp, "host-secret"), join(layer, "etc/group"));
    expect(readWithoutSymlinks(layer, ["etc", "group"])).toBeUndefined();
    const linked = join(tmp, "linked");
    mkdirSync(linked);
    symlinkSync(join(layer, "etc"), join(linked, "etc"));
    expect(readWithoutSymlinks(linked, ["etc", "passwd"])).toBeUndefined();
    // A FIFO (a container can make one, with no capability): not opened for a read that would block.
    expect(Bun.spawnSync(["mkfifo", join(layer, "etc/shadow")]).exitCode).toBe(0);
    expect(readWithoutSymlinks(layer, ["etc", "shadow"])).toBeUndefined();
  });

  test("past a page of mount options, layers get short names; past that, a clear error", () => {
    const store = new Store(tmp);
    const hex = (i: number) => new Bun.CryptoHasher("sha256").update(String(i)).digest("hex");
    const dirs = (n: number) => Array.from({ length: n }, (_, i) => join(store.imagesDir, "layers", hex(i), "root"));
    expect(fitLowerdirs(store, dirs(3), 200)).toEqual(dirs(3));
    expect("lowerdir=".length + dirs(40).join(":").length + 200).toBeGreaterThan(MOUNT_OPTIONS_LIMIT);
    const short = fitLowerdirs(store, dirs(40), 200);
    expect(short[0]).toBe(join(store.imagesDir, "l", hex(0).slice(0, 12)));
    expect(readlinkSync(short[0]!)).toBe(`../layers/${hex(0)}/root`);
    expect("lowerdir=".length + short.join(":").length + 200).toBeLessThanOrEqual(MOUNT_OPTIONS_LIMIT);
    expect(() => fitLowerdirs(store, dirs(200), 200)).toThrow(/the image has 200 layers: overlayfs's options would be \d+ bytes even with short layer names/);
  });
});

describe("registry protocol pieces", () => {
  test("WWW-Authenticate challenges", () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"')).toEqual({
      scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry", scope: "repository:a/b:pull" },
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: "basic", params: { realm: "x" } });
  });
  test("platform choice from an index", () => {
    const d = (architecture: string, variant?: string) => ({ mediaType: "m", digest: `sha256:${architecture}${variant ?? ""}`, size: 1, platform: { os: "linux", architecture, ...(variant ? { variant } : {}) } });
    const index: Index = { schemaVersion: 2, manifests: [d("arm", "v7"), d("arm64", "v8"), d("amd64")] };
    expect(choosePlatform(index, parsePlatform("linux/amd64"))?.digest).toBe("sha256:amd64");
    expect(choosePlatform(index, parsePlatform("linux/arm64"))?.digest).toBe("sha256:arm64v8");
    expect(choosePlatform(index, parsePlatform("linux/arm/v6"))).toBeUndefined();
    expect(() => parsePlatform("linux")).toThrow("invalid platform");
  });
});
