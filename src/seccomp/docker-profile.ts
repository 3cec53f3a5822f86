// `--security-opt seccomp=FILE`: a profile in docker's JSON format (the one
// moby's profiles/seccomp/default.json and podman's seccomp.json use), turned
// into the runtime-spec's linux.seccomp for one container. Docker's format
// adds conditions to each rule: `includes`/`excludes` by capability,
// architecture and kernel version; they are decided here, against the
// container's capabilities and this host, so the compiler sees plain rules.

import { readFileSync } from "node:fs";
import { UsageError } from "../linux/errors";
import { SECCOMP_ACTIONS, SECCOMP_OPERATORS, type LinuxSeccomp, type SeccompAction, type SeccompArg, type SeccompOperator, type SeccompRule } from "../spec/oci";
import { SYSCALLS_X86_64 } from "./syscalls-x86_64";

const ACTIONS: ReadonlySet<string> = new Set(SECCOMP_ACTIONS);
const OPERATORS: ReadonlySet<string> = new Set(SECCOMP_OPERATORS);
const NATIVE_ARCH = "SCMP_ARCH_X86_64";

interface Condition {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

interface DockerRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
  includes?: Condition;
  excludes?: Condition;
}

/** A docker profile, checked; its conditions are decided per container by `forContainer`. */
export interface DockerSeccompProfile {
  path: string;
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures: string[];
  flags?: string[];
  rules: DockerRule[];
}

function fail(path: string, what: string): never {
  throw new UsageError(`invalid seccomp profile ${path}: ${what}`);
}

function stringList(value: unknown, path: string, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) fail(path, `${field} must be a list of strings`);
  return value;
}

function action(value: unknown, path: string, field: string): SeccompAction {
  if (typeof value !== "string" || !ACTIONS.has(value)) fail(path, `${field}: unsupported action ${JSON.stringify(value)}`);
  return value as SeccompAction;
}

function condition(value: unknown, path: string, field: string): Condition | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object") fail(path, `${field} must be an object`);
  const c = value as Record<string, unknown>;
  if (c.minKernel !== undefined && (typeof c.minKernel !== "string" || !/^\d+\.\d+$/.test(c.minKernel))) fail(path, `${field}.minKernel must look like "5.8"`);
  return { caps: stringList(c.caps, path, `${field}.caps`), arches: stringList(c.arches, path, `${field}.arches`), minKernel: c.minKernel as string | undefined };
}

function argument(value: unknown, path: string, field: string): SeccompArg {
  if (typeof value !== "object" || value === null) fail(path, `${field} must be an object`);
  const a = value as Record<string, unknown>;
  if (typeof a.op !== "string" || !OPERATORS.has(a.op)) fail(path, `${field}.op: unsupported operator ${JSON.stringify(a.op)}`);
  for (const key of ["index", "value"] as const) {
    if (typeof a[key] !== "number" || !Number.isSafeInteger(a[key]) || (a[key] as number) < 0) fail(path, `${field}.${key} must be a non-negative integer`);
  }
  if (a.valueTwo !== undefined && (typeof a.valueTwo !== "number" || !Number.isSafeInteger(a.valueTwo))) fail(path, `${field}.valueTwo must be an integer`);
  return { index: a.index as number, value: a.value as number, valueTwo: (a.valueTwo as number | undefined) ?? 0, op: a.op as SeccompOperator };
}

/** Parses and checks a docker-format profile; every problem is one line naming the field. */
export function parseDockerProfile(text: string, path: string): DockerSeccompProfile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail(path, `not JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail(path, "the top level must be an object");
  const p = json as Record<string, unknown>;
  const architectures = new Set(stringList(p.architectures, path, "architectures"));
  // archMap: { architecture, subArchitectures }[]; the native one and its sub-architectures.
  if (p.archMap !== undefined) {
    if (!Array.isArray(p.archMap)) fail(path, "archMap must be a list");
    for (const [i, entry] of (p.archMap as Record<string, unknown>[]).entries()) {
      if (typeof entry?.architecture !== "string") fail(path, `archMap[${i}].architecture must be a string`);
      architectures.add(entry.architecture);
      for (const sub of stringList(entry.subArchitectures, path, `archMap[${i}].subArchitectures`)) architectures.add(sub);
    }
  }
  const rules: DockerRule[] = [];
  const syscalls = p.syscalls ?? [];
  if (!Array.isArray(syscalls)) fail(path, "syscalls must be a list");
  for (const [i, value] of syscalls.entries()) {
    const field = `syscalls[${i}]`;
    if (typeof value !== "object" || value === null) fail(path, `${field} must be an object`);
    const r = value as Record<string, unknown>;
    const names = [...stringList(r.names, path, `${field}.names`), ...(typeof r.name === "string" ? [r.name] : [])];
    if (names.length === 0) fail(path, `${field} names no system call`);
    if (r.errnoRet !== undefined && (typeof r.errnoRet !== "number" || !Number.isInteger(r.errnoRet))) fail(path, `${field}.errnoRet must be an integer`);
    if (r.args !== undefined && r.args !== null && !Array.isArray(r.args)) fail(path, `${field}.args must be a list`);
    rules.push({
      names,
      action: action(r.action, path, `${field}.action`),
      errnoRet: r.errnoRet as number | undefined,
      args: ((r.args as unknown[] | null | undefined) ?? []).map((a, j) => argument(a, path, `${field}.args[${j}]`)),
      includes: condition(r.includes, path, `${field}.includes`),
      excludes: condition(r.excludes, path, `${field}.excludes`),
    });
  }
  if (p.defaultErrnoRet !== undefined && (typeof p.defaultErrnoRet !== "number" || !Number.isInteger(p.defaultErrnoRet))) fail(path, "defaultErrnoRet must be an integer");
  return {
    path,
    defaultAction: action(p.defaultAction, path, "defaultAction"),
    defaultErrnoRet: p.defaultErrnoRet as number | undefined,
    architectures: [...architectures],
    flags: stringList(p.flags, path, "flags"),
    rules,
  };
}

export function readDockerProfile(path: string): DockerSeccompProfile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read seccomp profile ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseDockerProfile(text, path);
}

function kernelAtLeast(kernel: [number, number], min: string): boolean {
  const [major, minor] = min.split(".").map(Number) as [number, number];
  return kernel[0] > major || (kernel[0] === major && kernel[1] >= minor);
}

/** This architecture as docker's format names it in `arches` (Go's names), and as libseccomp does. */
const NATIVE_ARCH_NAMES: ReadonlySet<string> = new Set(["amd64", NATIVE_ARCH]);

/** docker's `includes`: on one of the arches, holding every cap, on at least minKernel. */
function included(c: Condition, capabilities: ReadonlySet<string>, kernel: [number, number]): boolean {
  if (c.arches?.length && !c.arches.some((arch) => NATIVE_ARCH_NAMES.has(arch))) return false;
  if (c.caps?.some((cap) => !capabilities.has(cap))) return false;
  return !c.minKernel || kernelAtLeast(kernel, c.minKernel);
}

/** docker's `excludes`: on one of the arches, or holding any of the caps. */
function excluded(c: Condition, capabilities: ReadonlySet<string>): boolean {
  return (c.arches ?? []).some((arch) => NATIVE_ARCH_NAMES.has(arch)) || (c.caps ?? []).some((cap) => capabilities.has(cap));
}

/**
 * The profile's rules that apply to a container with these capabilities on
 * this kernel, with docker's meaning: `includes` lists arches of which ours
 * must be one, caps that must all be held, a minimum kernel; `excludes`
 * lists arches and caps any one of which leaves the rule out.
 */
export function forContainer(profile: DockerSeccompProfile, capabilities: readonly string[], kernel: [number, number]): LinuxSeccomp {
  const held = new Set(capabilities);
  const rules: SeccompRule[] = profile.rules
    .filter((rule) => (!rule.includes || included(rule.includes, held, kernel)) && (!rule.excludes || !excluded(rule.excludes, held)))
    // Docker's profiles name every architecture's calls in one list
    // (socketcall, _llseek...): those this architecture lacks are left out, as libseccomp does.
    .map(({ names, action, errnoRet, args }) => ({
      names: names.filter((name) => name in SYSCALLS_X86_64), action,
      ...(errnoRet === undefined ? {} : { errnoRet }), ...(args?.length ? { args } : {}),
    }))
    .filter((rule) => rule.names.length > 0);
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: profile.defaultErrnoRet }),
    architectures: profile.architectures.length > 0 ? profile.architectures : [NATIVE_ARCH],
    ...(profile.flags?.length ? { flags: profile.flags } : {}),
    syscalls: rules,
  };
}
