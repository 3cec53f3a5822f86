// What the cgroup v2 test VM boots: Debian's generic kernel, taken out of its
// .deb (never installed on this host), and an initramfs holding a static
// busybox as init, the few kernel modules diyc's tests need, and the glibc
// loader and libraries Bun links against. The repository itself is not in
// it: the VM mounts the checkout read-only over 9p (see test/vm/init.sh).
//
// Everything is cached under build/vm/ (ignored by git): the second run
// downloads nothing and reuses the initramfs while its inputs are unchanged.
// Debian's mirror is the only network access (apt-get download).

import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const VM_CACHE = join(REPO, "build/vm");
export const INIT_SCRIPT = join(import.meta.dir, "init.sh");

/** Debian's metapackage for the current generic amd64 kernel; it depends on the versioned package. */
const KERNEL_METAPACKAGE = "linux-image-amd64";

/**
 * The modules the tests need, by name; their dependencies are added from
 * modules.dep. virtio_pci and 9pnet_virtio carry the 9p share of the
 * repository; overlay is every container's root; veth and bridge are there
 * for diyc's network code; zram gives the VM a swap device for --memory-swap.
 */
export const VM_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay", "veth", "bridge", "zram"];

export interface VmKernel {
  version: string;
  vmlinuz: string;
  /** The extracted lib/modules/VERSION directory. */
  modules: string;
}

export interface VmImage {
  kernel: VmKernel;
  initramfs: string;
}

export class VmImageError extends Error {}

function run(argv: string[], cwd?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) throw new VmImageError(`${argv[0]}: ${r.error.message}`);
  if (r.status !== 0) throw new VmImageError(`${argv.join(" ")} exited ${r.status}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
  return r.stdout;
}

/** "linux-image-6.1.0-57-amd64", from `apt-cache depends linux-image-amd64`. */
export function versionedKernelPackage(): string {
  const out = run(["apt-cache", "depends", KERNEL_METAPACKAGE]);
  const match = /Depends: (linux-image-[0-9][^\s]*-amd64)\b/.exec(out);
  if (!match) throw new VmImageError(`apt-cache depends ${KERNEL_METAPACKAGE} names no linux-image-VERSION-amd64 package`);
  return match[1]!;
}

/**
 * The kernel, downloaded and extracted once into build/vm/kernel/VERSION.
 * The package's name is remembered in build/vm/kernel.json so that a later
 * run needs neither apt nor the mirror.
 */
export function ensureKernel(cache = VM_CACHE): VmKernel {
  const record = join(cache, "kernel.json");
  if (existsSync(record)) {
    const kernel = JSON.parse(readFileSync(record, "utf8")) as VmKernel;
    if (kernelUsable(kernel)) return kernel;
  }
  let pkg = versionedKernelPackage();
  const download = join(cache, "download");
  rmSync(download, { recursive: true, force: true });
  mkdirSync(download, { recursive: true });
  let extracted: string;
  try {
    try {
      run(["apt-get", "download", "-q", pkg], download);
    } catch {
      // Stale package lists name a kernel the mirror has dropped since (each
      // point release replaces the previous ABI's package): refresh them, once.
      run(["apt-get", "update", "-qq"]);
      pkg = versionedKernelPackage();
      run(["apt-get", "download", "-q", pkg], download);
    }
    const deb = readdirSync(download).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
    if (!deb) throw new VmImageError(`apt-get download ${pkg} left no .deb in ${download}`);
    extracted = join(cache, "kernel", pkg.replace(/^linux-image-/, ""));
    rmSync(extracted, { recursive: true, force: true });
    mkdirSync(extracted, { recursive: true });
    run(["dpkg-deb", "-x", join(download, deb), extracted]);
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
  const version = pkg.replace(/^linux-image-/, "");
  // The .deb ships no modules.dep (the package's postinst would run depmod);
  // busybox's depmod writes one, from the modules' own "depends=" fields.
  run(["busybox", "depmod", "-b", extracted, version]);
  const kernel: VmKernel = {
    version,
    vmlinuz: join(extracted, "boot", `vmlinuz-${version}`),
    modules: join(extracted, "lib/modules", version),
  };
  if (!existsSync(kernel.vmlinuz)) throw new VmImageError(`${pkg} holds no boot/vmlinuz-${version}`);
  pruneModules(kernel);
  writeFileSync(record, JSON.stringify(kernel, null, 2) + "\n");
  return kernel;
}

/** The kernel, modules.dep and every module the VM loads are there (a longer VM_MODULES needs a new extraction). */
function kernelUsable(kernel: VmKernel): boolean {
  const dep = join(kernel.modules, "modules.dep");
  if (!existsSync(kernel.vmlinuz) || !existsSync(dep)) return false;
  try {
    return insmodOrder(parseModulesDep(readFileSync(dep, "utf8")), VM_MODULES).every((m) => existsSync(join(kernel.modules, m)));
  } catch {
    return false;
  }
}

/**
 * Deletes the ~6000 modules the VM never loads (about 390 of the 400 MB
 * unpacked); modules.dep, made before, still lists them all.
 */
function pruneModules(kernel: VmKernel): void {
  const keep = new Set(insmodOrder(parseModulesDep(readFileSync(join(kernel.modules, "modules.dep"), "utf8")), VM_MODULES));
  for (const entry of readdirSync(join(kernel.modules, "kernel"), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.ko(\.[a-z]+)?$/.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    if (!keep.has(path.slice(kernel.modules.length + 1))) rmSync(path);
  }
}

/** modules.dep text → module name → [its path, the paths it depends on]. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const modules = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    modules.set(moduleName(path), { path, deps });
  }
  return modules;
}

/** kernel/net/9p/9pnet_virtio.ko → 9pnet_virtio (the kernel treats - and _ alike; modules.dep keeps the file's name). */
const moduleName = (path: string) => path.slice(path.lastIndexOf("/") + 1).replace(/\.ko(\.[a-z]+)?$/, "").replace(/-/g, "_");

/** The paths to insmod, each after everything it depends on, each once. */
export function insmodOrder(dep: Map<string, { path: string; deps: string[] }>, wanted: string[]): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    const entry = dep.get(name);
    if (!entry) throw new VmImageError(`module ${name} is not in modules.dep`);
    if (order.includes(entry.path) || visiting.has(name)) return;
    visiting.add(name);
    for (const d of entry.deps) visit(moduleName(d));
    order.push(entry.path);
  };
  for (const name of wanted) visit(name);
  return order;
}

/** The absolute paths of the shared objects `ldd BINARY` lists (the loader included). */
export function sharedLibraries(binary: string): string[] {
  const paths = new Set<string>();
  for (const line of run(["ldd", binary]).split("\n")) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match) paths.add(match[1]!);
  }
  return [...paths];
}

/** The binaries that run in the VM and need their libraries there: Bun (bun test) and the compiled diyc. */
export const VM_BINARIES = [join(REPO, "node_modules/bun/bin/bun.exe"), join(REPO, "build/diyc")];

/**
 * The host's tools rootless diyc needs, at their paths, with their libraries:
 * newuidmap and newgidmap (setuid root, as Debian installs them), util-linux's
 * unshare and setpriv (the guest test runs diyc as an ordinary user with it).
 */
export const VM_TOOLS: { path: string; mode: number }[] = [
  { path: "/usr/bin/newuidmap", mode: 0o4755 },
  { path: "/usr/bin/newgidmap", mode: 0o4755 },
  { path: "/usr/bin/unshare", mode: 0o755 },
  { path: "/usr/bin/setpriv", mode: 0o755 },
];

/** The static busybox: init, the shell of the tests, and diyc's built-in "busybox" image. */
const BUSYBOX = "/bin/busybox";


/**
 * The initramfs for `kernel`, in build/vm/initramfs-HASH.cpio; HASH covers
 * everything put in it, so an edit of init.sh or a new libc builds a new one.
 */
export function ensureInitramfs(kernel: VmKernel, cache = VM_CACHE): string {
  const dep = parseModulesDep(readFileSync(join(kernel.modules, "modules.dep"), "utf8"));
  const modules = insmodOrder(dep, VM_MODULES);
  const libraries = [...new Set([...VM_BINARIES, ...VM_TOOLS.map((t) => t.path)].flatMap((b) => {
    if (!existsSync(b)) throw new VmImageError(`${b} is missing: run npm ci (or npm run build) first`);
    return sharedLibraries(b);
  }))].sort();

  const hash = new Bun.CryptoHasher("sha256");
  hash.update(readFileSync(INIT_SCRIPT));
  hash.update(kernel.version);
  for (const file of [BUSYBOX, ...VM_TOOLS.map((t) => t.path), ...libraries, ...modules.map((m) => join(kernel.modules, m))]) {
    const st = statSync(file);
    hash.update(`${file} ${st.size} ${st.mtimeMs}\n`);
  }
  const output = join(cache, `initramfs-${hash.digest("hex").slice(0, 16)}.cpio`);
  if (existsSync(output)) return output;

  const staging = join(cache, `initramfs-staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    const put = (source: string, target: string, mode?: number) => {
      const dest = join(staging, target);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(realpathSync(source), dest);
      if (mode !== undefined) chmodSync(dest, mode);
    };
    put(INIT_SCRIPT, "init", 0o755);
    put(BUSYBOX, "bin/busybox", 0o755);
    for (const lib of libraries) put(lib, lib, 0o755);
    for (const tool of VM_TOOLS) put(tool.path, tool.path, tool.mode);
    for (const m of modules) put(join(kernel.modules, m), join("lib/modules", m));
    writeFileSync(join(staging, "modules.order"), modules.join("\n") + "\n");
    // newc is the format the kernel unpacks; cpio reads the file list on stdin.
    const list = run(["find", ".", "-mindepth", "1"], staging);
    const cpio = spawnSync("cpio", ["--quiet", "-o", "-H", "newc", "-R", "0:0"], { cwd: staging, input: list, maxBuffer: 1 << 30 });
    if (cpio.error || cpio.status !== 0) throw new VmImageError(`cpio failed: ${cpio.error?.message ?? cpio.stderr.toString().trim()}`);
    writeFileSync(`${output}.tmp`, cpio.stdout);
    renameSync(`${output}.tmp`, output);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  // Older initramfs files are of no further use.
  for (const f of readdirSync(cache)) if (/^initramfs-[0-9a-f]{16}\.cpio$/.test(f) && join(cache, f) !== output) rmSync(join(cache, f), { force: true });
  return output;
}

/** The kernel and initramfs, downloading and building what is not cached yet. */
export function ensureVmImage(cache = VM_CACHE): VmImage {
  mkdirSync(cache, { recursive: true });
  const kernel = ensureKernel(cache);
  return { kernel, initramfs: ensureInitramfs(kernel, cache) };
}
