// An OCI bundle's config.json, read and checked: the runtime-spec's own
// document (https://github.com/opencontainers/runtime-spec/blob/main/config.md)
// turned into the Spec that src/plan/compile.ts compiles, the same type
// `diyc run` builds from its flags. Unknown fields are ignored, as the spec
// asks; a bad value is one line that names its field ("process.user.uid:
// expected a non-negative integer"), before anything is created.
//
// What the kernel or this host cannot do, or diyc-oci does not do yet, is
// refused here by name rather than half-done: AppArmor and SELinux labels on
// a host with neither, idmapped mounts with mappings of their own,
// cgroup v2 files on a v1 host.

import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { capabilityNumber } from "../linux/capabilities";
import { UsageError } from "../linux/errors";
import { NAMESPACES } from "../linux/namespaces";
import { RLIMIT } from "../linux/rlimits";
import { ioprioValue, schedAttr } from "../linux/scheduling";
import { DEFAULT_DEVICES } from "./defaults";
import type { Hook, Hooks, IdMapping, LinuxDevice, Mount, Namespace, NamespaceType, Process, Spec } from "./oci";
import type { LinuxBlockIO, LinuxDeviceRule, LinuxResources } from "./resources";

/** Options of runtimes' own (podman's, runc's) that are not mount(2) options: dropped. */
const RUNTIME_MOUNT_OPTIONS = new Set(["tmpcopyup", "notmpcopyup", "copy-symlink", "z", "Z", "U", "idmap", "ridmap"]);
const HOOK_KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] as const;

type Json = Record<string, unknown>;

function bad(field: string, why: string): UsageError {
  return new UsageError(`config.json: ${field}: ${why}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function object(value: unknown, field: string): Json {
  if (!isObject(value)) throw bad(field, "expected an object");
  return value;
}

function optionalObject(value: unknown, field: string): Json | undefined {
  return value === undefined || value === null ? undefined : object(value, field);
}

function string(value: unknown, field: string): string {
  if (typeof value !== "string") throw bad(field, "expected a string");
  if (value.includes("\0")) throw bad(field, "contains a NUL byte");
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  return value === undefined || value === null ? undefined : string(value, field);
}

function strings(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw bad(field, "expected an array of strings");
  return value.map((v, i) => string(v, `${field}[${i}]`));
}

function integer(value: unknown, field: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw bad(field, "expected an integer");
  if (value < min || value > max) throw bad(field, `must be from ${min} to ${max}`);
  return value;
}

function optionalInteger(value: unknown, field: string, min?: number, max?: number): number | undefined {
  return value === undefined || value === null ? undefined : integer(value, field, min, max);
}

function boolean(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw bad(field, "expected true or false");
  return value;
}

function absolute(path: string, field: string): string {
  if (!path.startsWith("/")) throw bad(field, `${JSON.stringify(path)} is not an absolute path`);
  return path;
}

const UINT32_MAX = 0xffffffff;

function capabilitySet(value: unknown, field: string): string[] {
  const names = strings(value, field);
  for (const [i, name] of names.entries()) {
    if (capabilityNumber(name) === undefined) throw bad(`${field}[${i}]`, `unknown capability ${JSON.stringify(name)}`);
  }
  return names;
}

/** AppArmor is usable when its module says so; SELinux when selinuxfs is mounted. */
export interface HostSecurity {
  apparmor: boolean;
  selinux: boolean;
}

export function hostSecurity(): HostSecurity {
  let apparmor = false;
  try {
    apparmor = readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").trim() === "Y";
  } catch {
    // no module: no AppArmor
  }
  return { apparmor, selinux: existsSync("/sys/fs/selinux/enforce") };
}

export function parseProcess(raw: unknown, field: string, security: HostSecurity): Process {
  const p = object(raw, field);
  const args = strings(p.args, `${field}.args`);
  if (args.length === 0) throw bad(`${field}.args`, "must name the program to run");
  const user = object(p.user ?? {}, `${field}.user`);
  const caps = optionalObject(p.capabilities, `${field}.capabilities`) ?? {};
  const cwd = absolute(string(p.cwd ?? "/", `${field}.cwd`), `${field}.cwd`);
  const env = strings(p.env, `${field}.env`);
  for (const [i, entry] of env.entries()) if (entry.indexOf("=") <= 0) throw bad(`${field}.env[${i}]`, `${JSON.stringify(entry)} is not KEY=VALUE`);

  const apparmorProfile = optionalString(p.apparmorProfile, `${field}.apparmorProfile`);
  if (apparmorProfile && !security.apparmor) throw bad(`${field}.apparmorProfile`, `${JSON.stringify(apparmorProfile)} was asked for, but AppArmor is not enabled on this host`);
  if (apparmorProfile) throw bad(`${field}.apparmorProfile`, "AppArmor profiles are not supported by diyc-oci yet");
  const selinuxLabel = optionalString(p.selinuxLabel, `${field}.selinuxLabel`);
  if (selinuxLabel && !security.selinux) throw bad(`${field}.selinuxLabel`, `${JSON.stringify(selinuxLabel)} was asked for, but SELinux is not enabled on this host`);
  if (selinuxLabel) throw bad(`${field}.selinuxLabel`, "SELinux labels are not supported by diyc-oci yet");

  const rlimits = (Array.isArray(p.rlimits) ? p.rlimits : p.rlimits == null ? [] : (() => { throw bad(`${field}.rlimits`, "expected an array"); })())
    .map((r: unknown, i: number) => {
      const f = `${field}.rlimits[${i}]`;
      const limit = object(r, f);
      const type = string(limit.type, `${f}.type`);
      if (!Object.hasOwn(RLIMIT, type)) throw bad(`${f}.type`, `unknown rlimit ${JSON.stringify(type)}`);
      const soft = integer(limit.soft, `${f}.soft`, 0, Number.MAX_SAFE_INTEGER);
      const hard = integer(limit.hard, `${f}.hard`, 0, Number.MAX_SAFE_INTEGER);
      if (soft > hard) throw bad(f, "soft is above hard");
      return { type, soft, hard };
    });

  const consoleSize = optionalObject(p.consoleSize, `${field}.consoleSize`);
  const rawScheduler = optionalObject(p.scheduler, `${field}.scheduler`);
  const scheduler = rawScheduler && {
    policy: string(rawScheduler.policy, `${field}.scheduler.policy`),
    nice: optionalInteger(rawScheduler.nice, `${field}.scheduler.nice`, -20, 19),
    priority: optionalInteger(rawScheduler.priority, `${field}.scheduler.priority`, 0, 99),
    flags: strings(rawScheduler.flags, `${field}.scheduler.flags`),
    runtime: optionalInteger(rawScheduler.runtime, `${field}.scheduler.runtime`, 0),
    deadline: optionalInteger(rawScheduler.deadline, `${field}.scheduler.deadline`, 0),
    period: optionalInteger(rawScheduler.period, `${field}.scheduler.period`, 0),
  };
  if (scheduler) schedAttr(scheduler, `${field}.scheduler`); // checks the names now, before anything is made
  const rawIo = optionalObject(p.ioPriority, `${field}.ioPriority`);
  const ioPriority = rawIo && { class: string(rawIo.class, `${field}.ioPriority.class`), priority: integer(rawIo.priority ?? 0, `${field}.ioPriority.priority`, 0, 7) };
  if (ioPriority) ioprioValue(ioPriority, `${field}.ioPriority`);

  return {
    terminal: boolean(p.terminal, `${field}.terminal`),
    consoleSize: consoleSize && {
      height: integer(consoleSize.height ?? 0, `${field}.consoleSize.height`, 0, 65535),
      width: integer(consoleSize.width ?? 0, `${field}.consoleSize.width`, 0, 65535),
    },
    user: {
      uid: integer(user.uid ?? 0, `${field}.user.uid`, 0, UINT32_MAX),
      gid: integer(user.gid ?? 0, `${field}.user.gid`, 0, UINT32_MAX),
      umask: optionalInteger(user.umask, `${field}.user.umask`, 0, 0o777),
      additionalGids: (Array.isArray(user.additionalGids) ? user.additionalGids : []).map((g: unknown, i: number) =>
        integer(g, `${field}.user.additionalGids[${i}]`, 0, UINT32_MAX)),
    },
    args,
    env,
    cwd,
    capabilities: {
      bounding: capabilitySet(caps.bounding, `${field}.capabilities.bounding`),
      effective: capabilitySet(caps.effective, `${field}.capabilities.effective`),
      permitted: capabilitySet(caps.permitted, `${field}.capabilities.permitted`),
      inheritable: capabilitySet(caps.inheritable, `${field}.capabilities.inheritable`),
      ambient: capabilitySet(caps.ambient, `${field}.capabilities.ambient`),
    },
    noNewPrivileges: boolean(p.noNewPrivileges, `${field}.noNewPrivileges`),
    rlimits,
    oomScoreAdj: optionalInteger(p.oomScoreAdj, `${field}.oomScoreAdj`, -1000, 1000),
    ...(scheduler ? { scheduler } : {}),
    ...(ioPriority ? { ioPriority } : {}),
  };
}

function parseMount(raw: unknown, field: string, bundle: string): Mount {
  const m = object(raw, field);
  const destination = absolute(string(m.destination, `${field}.destination`), `${field}.destination`);
  const type = optionalString(m.type, `${field}.type`);
  let source = optionalString(m.source, `${field}.source`);
  const options = strings(m.options, `${field}.options`).filter((o) => !RUNTIME_MOUNT_OPTIONS.has(o));
  const isBind = type === "bind" || options.includes("bind") || options.includes("rbind");
  // A relative bind source is relative to the bundle (runtime-spec config.md#mounts).
  if (isBind && source !== undefined && !isAbsolute(source)) source = resolve(bundle, source);
  const rawOptions = strings(m.options, `${field}.options`);
  const idmap = rawOptions.includes("idmap") || rawOptions.includes("ridmap") || m.uidMappings !== undefined || m.gidMappings !== undefined;
  if (idmap && !isBind) throw bad(field, "idmap is for bind mounts");
  return {
    destination, ...(type !== undefined ? { type } : {}), ...(source !== undefined ? { source } : {}), options,
    ...(idmap ? { idmap: { recursive: rawOptions.includes("ridmap") || rawOptions.includes("rbind") } } : {}),
    // Checked against the container's own maps once the whole config is read.
    ...(m.uidMappings || m.gidMappings ? { mappings: { uid: parseMappings(m.uidMappings, `${field}.uidMappings`), gid: parseMappings(m.gidMappings, `${field}.gidMappings`) } } : {}),
  } as Mount;
}

function parseMappings(value: unknown, field: string): IdMapping[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw bad(field, "expected an array");
  return value.map((raw, i) => {
    const m = object(raw, `${field}[${i}]`);
    return {
      containerID: integer(m.containerID, `${field}[${i}].containerID`, 0, UINT32_MAX),
      hostID: integer(m.hostID, `${field}[${i}].hostID`, 0, UINT32_MAX),
      size: integer(m.size, `${field}[${i}].size`, 1, UINT32_MAX),
    };
  });
}

function parseDevice(raw: unknown, field: string): LinuxDevice {
  const d = object(raw, field);
  const type = string(d.type, `${field}.type`);
  if (type !== "c" && type !== "b" && type !== "p" && type !== "u") throw bad(`${field}.type`, "must be c, b, u or p");
  return {
    path: absolute(string(d.path, `${field}.path`), `${field}.path`),
    type: type === "u" ? "c" : type,
    major: integer(d.major ?? 0, `${field}.major`, 0),
    minor: integer(d.minor ?? 0, `${field}.minor`, 0),
    // podman sends the type bits too (0o20666 for a character device): the node's type is `type`'s.
    fileMode: integer(d.fileMode ?? 0o666, `${field}.fileMode`, 0, 0o177777) & 0o7777,
    uid: optionalInteger(d.uid, `${field}.uid`, 0, UINT32_MAX),
    gid: optionalInteger(d.gid, `${field}.gid`, 0, UINT32_MAX),
  };
}

/** linux.resources: the parts the cgroup drivers apply; the rest is checked and refused by name. */
export function parseResources(raw: unknown, field: string): LinuxResources {
  const r = optionalObject(raw, field);
  if (!r) return {};
  const out: LinuxResources = {};
  const memory = optionalObject(r.memory, `${field}.memory`);
  if (memory) {
    const limit = optionalInteger(memory.limit, `${field}.memory.limit`, -1);
    const swap = optionalInteger(memory.swap, `${field}.memory.swap`, -1);
    if (limit !== undefined || swap !== undefined) out.memory = { ...(limit !== undefined ? { limit } : {}), ...(swap !== undefined ? { swap } : {}) };
  }
  const cpu = optionalObject(r.cpu, `${field}.cpu`);
  if (cpu) {
    const c = {
      shares: optionalInteger(cpu.shares, `${field}.cpu.shares`, 0),
      quota: optionalInteger(cpu.quota, `${field}.cpu.quota`, -1),
      period: optionalInteger(cpu.period, `${field}.cpu.period`, 0),
      cpus: optionalString(cpu.cpus, `${field}.cpu.cpus`) || undefined,
      mems: optionalString(cpu.mems, `${field}.cpu.mems`) || undefined,
    };
    // 0 means "not set" for shares and period in what podman and containerd send.
    if (c.shares === 0) c.shares = undefined;
    if (c.period === 0) c.period = undefined;
    const defined = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
    if (Object.keys(defined).length > 0) out.cpu = defined;
  }
  const pids = optionalObject(r.pids, `${field}.pids`);
  if (pids && pids.limit !== undefined && pids.limit !== null) {
    const limit = integer(pids.limit, `${field}.pids.limit`);
    // The spec: 0 or a negative value is "no limit".
    out.pids = { limit: limit <= 0 ? -1 : limit };
  }
  // Checked and refused by name rather than ignored: a limit asked for must hold.
  const unified = optionalObject(r.unified, `${field}.unified`);
  if (unified && Object.keys(unified).length > 0) {
    out.unified = {};
    for (const [key, value] of Object.entries(unified)) {
      // A control file's name, never a path: "memory.high", "io.max".
      if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(key) || key.startsWith("cgroup.")) throw bad(`${field}.unified.${key}`, "not a controller's file name");
      out.unified[key] = string(value, `${field}.unified.${key}`);
    }
  }
  const blockIO = optionalObject(r.blockIO, `${field}.blockIO`);
  if (blockIO) {
    const io: LinuxBlockIO = {};
    const weight = optionalInteger(blockIO.weight, `${field}.blockIO.weight`, 0, 1000);
    if (weight) io.weight = weight;
    if (Array.isArray(blockIO.weightDevice) && blockIO.weightDevice.length > 0) {
      io.weightDevice = blockIO.weightDevice.map((raw: unknown, i: number) => {
        const f = `${field}.blockIO.weightDevice[${i}]`;
        const d = object(raw, f);
        if (d.leafWeight) throw bad(`${f}.leafWeight`, "leaf weights are not applied by diyc-oci");
        return { major: integer(d.major, `${f}.major`, 0), minor: integer(d.minor, `${f}.minor`, 0), weight: integer(d.weight, `${f}.weight`, 1, 1000) };
      });
    }
    if (blockIO.leafWeight) throw bad(`${field}.blockIO.leafWeight`, "leaf weights are not applied by diyc-oci yet");
    for (const name of ["throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"] as const) {
      const list = blockIO[name];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) throw bad(`${field}.blockIO.${name}`, "expected an array");
      if (list.length === 0) continue;
      io[name] = list.map((raw: unknown, i: number) => {
        const f = `${field}.blockIO.${name}[${i}]`;
        const d = object(raw, f);
        return { major: integer(d.major, `${f}.major`, 0), minor: integer(d.minor, `${f}.minor`, 0), rate: integer(d.rate, `${f}.rate`, 0) };
      });
    }
    if (Object.keys(io).length > 0) out.blockIO = io;
  }
  if (r.hugepageLimits !== undefined && r.hugepageLimits !== null) {
    if (!Array.isArray(r.hugepageLimits)) throw bad(`${field}.hugepageLimits`, "expected an array");
    const limits = r.hugepageLimits.map((raw: unknown, i: number) => {
      const f = `${field}.hugepageLimits[${i}]`;
      const h = object(raw, f);
      const pageSize = string(h.pageSize, `${f}.pageSize`);
      if (!/^\d+[KMG]B$/.test(pageSize)) throw bad(`${f}.pageSize`, `${JSON.stringify(pageSize)} is not a size like 2MB`);
      return { pageSize, limit: integer(h.limit, `${f}.limit`, 0) };
    });
    if (limits.length > 0) out.hugepageLimits = limits;
  }
  // linux.resources.devices: diyc applies its own allow-list (the standard
  // devices) with a deny-all default; podman and containerd send exactly that
  // deny-all first. Entries are checked here so that a bad one is named.
  if (r.devices !== undefined && r.devices !== null) {
    if (!Array.isArray(r.devices)) throw bad(`${field}.devices`, "expected an array");
    const rules: LinuxDeviceRule[] = r.devices.map((raw: unknown, i: number) => {
      const f = `${field}.devices[${i}]`;
      const d = object(raw, f);
      const access = optionalString(d.access, `${f}.access`) || "rwm";
      if (!/^[rwm]+$/.test(access)) throw bad(`${f}.access`, "use r, w and m");
      const type = optionalString(d.type, `${f}.type`) ?? "a";
      if (type !== "a" && type !== "c" && type !== "b") throw bad(`${f}.type`, "must be a, c or b");
      const number = (value: unknown, name: string) => (value === undefined || value === null || value === -1 ? "*" as const : integer(value, `${f}.${name}`, 0));
      return { allow: boolean(d.allow, `${f}.allow`), type, major: number(d.major, "major"), minor: number(d.minor, "minor"), access };
    });
    // Every container starts from "deny all" (plus the standard devices): a leading deny-all says nothing more.
    while (rules[0] && !rules[0].allow && rules[0].type === "a" && rules[0].access.length === 3) rules.shift();
    if (rules.length > 0) out.devices = rules;
  }
  return out;
}

function parseHooks(raw: unknown): Hooks | undefined {
  const h = optionalObject(raw, "hooks");
  if (!h) return undefined;
  const hooks: Hooks = {};
  for (const kind of HOOK_KINDS) {
    const list = h[kind];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw bad(`hooks.${kind}`, "expected an array");
    hooks[kind] = list.map((item: unknown, i: number): Hook => {
      const f = `hooks.${kind}[${i}]`;
      const hook = object(item, f);
      return {
        path: absolute(string(hook.path, `${f}.path`), `${f}.path`),
        args: strings(hook.args, `${f}.args`),
        env: strings(hook.env, `${f}.env`),
        timeout: optionalInteger(hook.timeout, `${f}.timeout`, 1),
      };
    });
  }
  return hooks;
}

function parseNamespaces(value: unknown): Namespace[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw bad("linux.namespaces", "expected an array");
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const ns = object(raw, `linux.namespaces[${i}]`);
    const type = string(ns.type, `linux.namespaces[${i}].type`) as NamespaceType;
    if (!Object.hasOwn(NAMESPACES, type)) throw bad(`linux.namespaces[${i}].type`, `unknown namespace ${JSON.stringify(type)}`);
    if (seen.has(type)) throw bad(`linux.namespaces[${i}]`, `the ${type} namespace is listed twice`);
    seen.add(type);
    const path = optionalString(ns.path, `linux.namespaces[${i}].path`);
    if (path !== undefined && path !== "") {
      absolute(path, `linux.namespaces[${i}].path`);
      if (!existsSync(path)) throw bad(`linux.namespaces[${i}].path`, `${path} does not exist`);
      return { type, path };
    }
    return { type };
  });
}

export interface BundleConfig {
  spec: Spec;
  /** root.path, absolute. */
  rootfs: string;
}

/**
 * Reads BUNDLE/config.json. Devices: the standard ones (/dev/null, ...) are
 * always made, as every runtime does; the config's own come on top.
 */
export function loadBundle(bundle: string, security: HostSecurity = hostSecurity()): BundleConfig {
  const dir = resolve(bundle);
  let text: string;
  try {
    text = readFileSync(join(dir, "config.json"), "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${join(dir, "config.json")}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config.json: not valid JSON (${(error as Error).message})`);
  }
  return parseConfig(raw, dir, security);
}

export function parseConfig(raw: unknown, bundle: string, security: HostSecurity): BundleConfig {
  const c = object(raw, "config");
  const ociVersion = string(c.ociVersion ?? "1.0.2", "ociVersion");
  if (!/^1\./.test(ociVersion)) throw bad("ociVersion", `${JSON.stringify(ociVersion)} is not a 1.x runtime-spec version`);
  const root = object(c.root, "root");
  const rootfs = resolve(bundle, string(root.path, "root.path"));
  let isDir = false;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw bad("root.path", `${rootfs} is not a directory`);
  const process = parseProcess(c.process, "process", security);
  const linux = optionalObject(c.linux, "linux") ?? {};

  const mounts = (c.mounts == null ? [] : Array.isArray(c.mounts) ? c.mounts : (() => { throw bad("mounts", "expected an array"); })())
    .map((m: unknown, i: number) => parseMount(m, `mounts[${i}]`, bundle));
  const devices = (linux.devices == null ? [] : Array.isArray(linux.devices) ? linux.devices : (() => { throw bad("linux.devices", "expected an array"); })())
    .map((d: unknown, i: number) => parseDevice(d, `linux.devices[${i}]`));
  const devicePaths = new Set(devices.map((d) => d.path));

  const cgroupsPath = optionalString(linux.cgroupsPath, "linux.cgroupsPath");
  const sysctl = optionalObject(linux.sysctl, "linux.sysctl");
  const timeOffsets = optionalObject(linux.timeOffsets, "linux.timeOffsets");
  const offsets: Record<string, { secs: number; nanosecs: number }> = {};
  for (const [clock, raw] of Object.entries(timeOffsets ?? {})) {
    if (clock !== "monotonic" && clock !== "boottime") throw bad(`linux.timeOffsets.${clock}`, "only monotonic and boottime clocks have offsets");
    const o = object(raw, `linux.timeOffsets.${clock}`);
    offsets[clock] = { secs: integer(o.secs ?? 0, `linux.timeOffsets.${clock}.secs`), nanosecs: integer(o.nanosecs ?? 0, `linux.timeOffsets.${clock}.nanosecs`, 0, 999_999_999) };
  }
  const personality = optionalObject(linux.personality, "linux.personality");
  const mountLabel = optionalString(linux.mountLabel, "linux.mountLabel");
  if (mountLabel && security.selinux) throw bad("linux.mountLabel", "SELinux labels are not supported by diyc-oci yet");
  const rootfsPropagation = optionalString(linux.rootfsPropagation, "linux.rootfsPropagation") || undefined;
  const intelRdt = optionalObject(linux.intelRdt, "linux.intelRdt");
  if (intelRdt) throw bad("linux.intelRdt", "Intel RDT is not supported by diyc-oci");

  const hostname = optionalString(c.hostname, "hostname");
  if (hostname !== undefined && hostname.length > 64) throw bad("hostname", "longer than 64 bytes");
  const domainname = optionalString(c.domainname, "domainname");

  const annotations = optionalObject(c.annotations, "annotations");
  const spec: Spec = {
    ociVersion,
    process,
    root: { path: rootfs, readonly: boolean(root.readonly, "root.readonly") },
    ...(hostname ? { hostname } : {}),
    ...(domainname ? { domainname } : {}),
    mounts,
    linux: {
      namespaces: parseNamespaces(linux.namespaces),
      uidMappings: parseMappings(linux.uidMappings, "linux.uidMappings"),
      gidMappings: parseMappings(linux.gidMappings, "linux.gidMappings"),
      resources: parseResources(linux.resources, "linux.resources"),
      maskedPaths: strings(linux.maskedPaths, "linux.maskedPaths").map((p, i) => absolute(p, `linux.maskedPaths[${i}]`)),
      readonlyPaths: strings(linux.readonlyPaths, "linux.readonlyPaths").map((p, i) => absolute(p, `linux.readonlyPaths[${i}]`)),
      devices: [...DEFAULT_DEVICES.filter((d) => !devicePaths.has(d.path)), ...devices],
      ...(cgroupsPath ? { cgroupsPath } : {}),
      ...(linux.seccomp ? { seccomp: parseSeccomp(linux.seccomp) } : {}),
      ...(sysctl ? { sysctl: Object.fromEntries(Object.entries(sysctl).map(([k, v]) => [k, string(v, `linux.sysctl.${k}`)])) } : {}),
      ...(rootfsPropagation ? { rootfsPropagation } : {}),
      ...(Object.keys(offsets).length > 0 ? { timeOffsets: offsets } : {}),
      ...(personality ? { personality: { domain: string(personality.domain, "linux.personality.domain"), flags: strings(personality.flags, "linux.personality.flags") } } : {}),
    },
    ...(annotations ? { annotations: Object.fromEntries(Object.entries(annotations).map(([k, v]) => [k, string(v, `annotations.${k}`)])) } : {}),
    ...(c.hooks ? { hooks: parseHooks(c.hooks) } : {}),
  };
  if (spec.linux.timeOffsets && !spec.linux.namespaces.some((ns) => ns.type === "time" && !ns.path)) {
    throw bad("linux.timeOffsets", "given without a new time namespace in linux.namespaces");
  }
  spec.mounts.forEach((mount, i) => {
    if (!mount.idmap) return;
    if (!spec.linux.namespaces.some((ns) => ns.type === "user" && !ns.path) || !spec.linux.uidMappings) {
      throw bad(`mounts[${i}]`, "an idmapped mount needs a new user namespace with linux.uidMappings (it is mapped to the container's)");
    }
    const own = (mount as Mount & { mappings?: { uid?: IdMapping[]; gid?: IdMapping[] } }).mappings;
    const same = (a?: IdMapping[], b?: IdMapping[]) => a === undefined || JSON.stringify(a) === JSON.stringify(b);
    if (own && (!same(own.uid, spec.linux.uidMappings) || !same(own.gid, spec.linux.gidMappings))) {
      throw bad(`mounts[${i}].uidMappings`, "idmapped mounts with mappings other than the container's are not supported by diyc-oci yet");
    }
    delete (mount as { mappings?: unknown }).mappings;
  });
  if (spec.linux.uidMappings && !spec.linux.namespaces.some((ns) => ns.type === "user")) {
    throw bad("linux.uidMappings", "given without a user namespace in linux.namespaces");
  }
  return { spec, rootfs };
}

function parseSeccomp(raw: unknown): NonNullable<Spec["linux"]["seccomp"]> {
  const s = object(raw, "linux.seccomp");
  const syscalls = s.syscalls == null ? [] : Array.isArray(s.syscalls) ? s.syscalls : (() => { throw bad("linux.seccomp.syscalls", "expected an array"); })();
  if (s.listenerPath) throw bad("linux.seccomp.listenerPath", "seccomp notification is not supported by diyc-oci yet");
  return {
    defaultAction: string(s.defaultAction, "linux.seccomp.defaultAction") as never,
    defaultErrnoRet: optionalInteger(s.defaultErrnoRet, "linux.seccomp.defaultErrnoRet", 0, 4095),
    architectures: strings(s.architectures, "linux.seccomp.architectures"),
    flags: strings(s.flags, "linux.seccomp.flags"),
    syscalls: syscalls.map((raw: unknown, i: number) => {
      const f = `linux.seccomp.syscalls[${i}]`;
      const rule = object(raw, f);
      const args = rule.args == null ? [] : Array.isArray(rule.args) ? rule.args : (() => { throw bad(`${f}.args`, "expected an array"); })();
      return {
        names: strings(rule.names, `${f}.names`),
        action: string(rule.action, `${f}.action`) as never,
        errnoRet: optionalInteger(rule.errnoRet, `${f}.errnoRet`, 0, 4095),
        args: args.map((a: unknown, j: number) => {
          const arg = object(a, `${f}.args[${j}]`);
          return {
            index: integer(arg.index, `${f}.args[${j}].index`, 0, 5),
            value: integer(arg.value ?? 0, `${f}.args[${j}].value`, 0),
            valueTwo: optionalInteger(arg.valueTwo, `${f}.args[${j}].valueTwo`, 0),
            op: string(arg.op, `${f}.args[${j}].op`) as never,
          };
        }),
      };
    }),
  };
}
