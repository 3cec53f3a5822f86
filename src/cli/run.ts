// `diyc run [options] NAME IMAGE [CMD [ARG...]]`, and the seed's form
// `diyc [options] NAME IMAGE CMD...` which main.ts sends here too.

import { existsSync, readFileSync } from "node:fs";
import { kernelCapabilities, ownCapabilities } from "../linux/capabilities";
import { hostDevices } from "../linux/devices";
import { DiycError, UsageError } from "../linux/errors";
import { readDockerProfile, type DockerSeccompProfile } from "../seccomp/docker-profile";
import type { ContainerOptions } from "../spec/container-spec";
import { parsePublish, validateRequestedIp } from "../network/index";
import { resolveNetwork } from "../runtime/networking";
import type { NetworkRequest, RestartPolicy, RunRequest } from "../runtime/container";
import type { RuntimeContext } from "../runtime/context";
import { runContainer, type RunOutcome } from "../runtime/run";
import { parseMemory, parseResourceFlags } from "../spec/resources";
import { parseTmpfs, parseVolume } from "../spec/volumes";
import { all, has, last, parseArgs, type OptionSpec, type ParsedArgs } from "./args";
import type { CliContext, Command } from "./context";
import { formatBytes } from "./format";
import { runtimeContext } from "./runtime-context";
import { finishRecording, startRecording } from "./prepared";
import { ensureImage, ensureOptions, PULL_OPTIONS } from "./pull";
import { applyImageConfig, layerFileReader } from "../image/run-config";
import { findImage, imageConfig, imageLayout, layerRoots } from "../image/images";
import { parseReference } from "../image/reference";
import { BUILTIN_IMAGE } from "../image/builtin";

export const RUN_HELP = `Usage: diyc run [options] NAME IMAGE [CMD [ARG...]]    (the seed's form)
       diyc run [options] [--name NAME] IMAGE [CMD [ARG...]]   (docker's form)
       diyc [options] NAME IMAGE CMD...

Which form: with --name, docker's. Without, the seed's when the second word is
an image diyc knows (in the store, busybox, or a registry reference like
127.0.0.1:5000/app); otherwise docker's, with a generated name, when the first
word is one.

Runs CMD in a new container NAME made from IMAGE, waits for it, and exits
with its status. The container's files persist: running NAME again reuses
them; diyc rm NAME deletes them. Without CMD, the image's Entrypoint and Cmd
(else /bin/sh). An IMAGE not in the store is pulled first (see diyc pull).

Options:
  -v, --verbose          print every kernel step as it happens (HOST|, CONTAINER|)
      --rm               delete the container when it exits
  -d, --detach           return once started and print the name; see diyc logs, ps, stop
      --restart POLICY   no | on-failure[:N] | always (detached containers; the monitor restarts them)
      --log-max-size N   the container's log is rotated past N bytes (k, m, g; default 10m)
      --volume HOST:CTR[:ro]  bind-mount a host path (repeatable; -v stays --verbose)
      --tmpfs PATH[:OPTS]     mount a tmpfs (repeatable)
  -i, --interactive      the command reads your stdin (without it: /dev/null, as docker does);
                         -i followed by an IPv4 address is the seed's --ip. The seed's form
                         typed at a terminal (stdin and stdout), without -t or -i, gets a
                         pty as -it would
      --name NAME        the container's name (docker's form); without it one is generated
      --init             pid 1 is a small reaper that forwards signals to the command
      --security-opt seccomp=unconfined|FILE
                         no seccomp filter, or a profile in docker's JSON format
                         (default: an allow list, docs/seccomp.md)
      --userns auto|host auto: a user namespace of its own, root in the container is not root on
                         the host (ids from /etc/subuid and /etc/subgid); host: the host's ids (default)
      --privileged       not isolation: every capability, the host's devices, no seccomp
                         filter, no masked /proc paths, a writable /sys (as docker's)
      --dns ADDR, --dns-search DOMAIN, --add-host NAME:IP   /etc/resolv.conf and /etc/hosts
      --cap-add CAP, --cap-drop CAP   add to or drop from the default capabilities
                         (NET_RAW or CAP_NET_RAW, any case; ALL; repeatable)
  -t, --tty              a terminal (pty) for the command: your terminal in raw mode, resizes
                         passed on; with -d its output goes to the log
  -e, --env KEY=VALUE    set an environment variable (repeatable); -e KEY passes yours through
      --env-file FILE    KEY=VALUE lines (# comments), before -e
  -w, --workdir DIR      working directory inside the container (created if missing)
      --hostname NAME    hostname (default: the container's name)
  -u, --user USER[:GROUP]  names or ids; names from the image's /etc/passwd, /etc/group
                         (default: the image's User, else 0)
      --entrypoint CMD   replaces the image's Entrypoint ("" clears it; the image's Cmd is dropped)
      --platform OS/ARCH, --insecure-registry HOST:PORT   for the pull of a missing IMAGE
      --read-only        mount the root filesystem read-only
  -h, --help             this help

Network (default: the host's network, as in the seed):
  -i, --ip ADDR          a network namespace of its own with this address on the bridge
      --net MODE         host | none (only lo) | bridge (diyc0, an address is leased) | NETWORK
  -p, --publish [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]   publish a port (repeatable)

Limits (cgroups):
  -m, --mem N            memory limit: a number of megabytes, or with k, m, g (512m, 1g); no swap
      --memory-swap N    memory + swap limit (-1: unlimited swap)
      --cpus N           CPU time, in cores (1.5)
      --cpu-shares N     relative CPU weight (2..262144)
      --cpuset-cpus LIST CPUs allowed (0-1,3)
      --pids-limit N     most processes at once

Exit status: the command's own; 128+N if it was killed by signal N;
125 if diyc failed; 126 if the command cannot be executed; 127 if not found.`;

const OPTIONS: OptionSpec[] = [
  { long: "verbose", short: "v" },
  { long: "rm" },
  { long: "env", short: "e", value: true },
  { long: "workdir", short: "w", value: true },
  { long: "hostname", value: true },
  { long: "user", short: "u", value: true },
  { long: "read-only" },
  { long: "help", short: "h" },
  { long: "ip", short: "i", value: true },
  { long: "net", value: true },
  { long: "network", value: true },
  { long: "publish", short: "p", value: true },
  { long: "mem", short: "m", value: true },
  { long: "memory", value: true },
  { long: "memory-swap", value: true },
  { long: "cpus", value: true },
  { long: "cpu-shares", value: true },
  { long: "cpuset-cpus", value: true },
  { long: "pids-limit", value: true },
  { long: "detach", short: "d" },
  { long: "tty", short: "t" },
  { long: "init" },
  { long: "interactive" },
  { long: "name", value: true },
  { long: "env-file", value: true },
  { long: "privileged" },
  { long: "userns", value: true },
  { long: "dns", value: true },
  { long: "dns-search", value: true },
  { long: "add-host", value: true },
  { long: "restart", value: true },
  { long: "log-max-size", value: true },
  { long: "volume", value: true },
  { long: "tmpfs", value: true },
  { long: "security-opt", value: true },
  { long: "cap-add", value: true },
  { long: "cap-drop", value: true },
  { long: "entrypoint", value: true },
  ...PULL_OPTIONS,
];

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The seed's `-i ADDR` and docker's `-i` (interactive) share a letter: -i
 * followed by an IPv4 address is the seed's --ip, anything else is -i alone.
 */
export function disambiguateDashI(args: string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const arg = args[k]!;
    if (!arg.startsWith("-") || arg === "--") {
      out.push(...args.slice(k));
      break;
    }
    if (arg === "-i") out.push(IPV4.test(args[k + 1] ?? "") ? "--ip" : "--interactive");
    else if (/^-[dtv]*i[dtv]*$/.test(arg)) {
      // -it, -di, ...: the other letters stay a bundle of their own.
      const others = arg.replace("i", "");
      out.push(...(others === "-" ? [] : [others]), "--interactive");
    } else out.push(arg);
  }
  return out;
}

/**
 * `-v` is the seed's --verbose. A docker user's `-v HOST:CTR` would be read as
 * -v and then fail on the name: say what to type instead.
 */
function refuseVolumeAsVerbose(argv: string[]): void {
  for (let k = 0; k < argv.length - 1; k++) {
    if (!argv[k]!.startsWith("-")) return; // options end at the first word
    if (argv[k] === "-v" && /^[^-].*:\//.test(argv[k + 1]!)) {
      throw new UsageError(`-v is --verbose here (the seed's meaning); for a volume write --volume ${argv[k + 1]}`);
    }
  }
}

/** Whether `text` names an image diyc has or can get: in the store, built in, or a registry reference. */
function isImage(ctx: CliContext, text: string): boolean {
  try {
    return text === BUILTIN_IMAGE || findImage(imageLayout(ctx.store), text) !== undefined || parseReference(text).registry !== undefined;
  } catch {
    return false;
  }
}

const ADJECTIVES = ["brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble", "proud", "quiet", "sharp", "tender", "witty"];
const NAMES = ["babbage", "curie", "dijkstra", "euler", "fermat", "gauss", "hopper", "knuth", "lovelace", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak"];

/** A name as docker makes them (adjective_scientist), not yet used in this store. */
function generatedName(ctx: CliContext): string {
  for (let attempt = 0; ; attempt++) {
    const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)]!;
    const name = `${pick(ADJECTIVES)}_${pick(NAMES)}${attempt >= 10 ? `_${attempt}` : ""}`;
    if (!existsSync(ctx.store.containerDir(name))) return name;
  }
}

/**
 * NAME IMAGE CMD (the seed's form) or [--name NAME] IMAGE CMD (docker's).
 * With --name it is docker's. Without, the seed's form when its second word
 * is an image diyc knows (in the store, built in, or a registry reference);
 * else docker's when the first word is one, with a generated name. Else the
 * seed's, whose missing image is then reported (with a hint, see below).
 */
function chooseForm(ctx: CliContext, parsed: ParsedArgs): { name: string; image: string; command: string[]; seedForm: boolean; nameGenerated?: boolean } {
  const [first, second, ...rest] = parsed.positionals;
  const named = last(parsed, "name");
  if (named !== undefined) {
    if (!first) throw new UsageError("run needs an IMAGE; see diyc run --help");
    return { name: named, image: first, command: parsed.positionals.slice(1), seedForm: false };
  }
  if (!first) throw new UsageError("run needs NAME and IMAGE (or --name NAME IMAGE); see diyc run --help");
  if (second !== undefined && isImage(ctx, second)) return { name: first, image: second, command: rest, seedForm: true };
  if (isImage(ctx, first)) return { name: generatedName(ctx), image: first, command: second === undefined ? [] : [second, ...rest], seedForm: false, nameGenerated: true };
  if (second === undefined) throw new UsageError(`no such image: ${first}; see diyc image ls`);
  return { name: first, image: second, command: rest, seedForm: true };
}

/** "no such image: echo" for a word that is a command on this host: the image was left out. */
function withCommandHint(error: unknown, image: string): unknown {
  if (!(error instanceof DiycError) || !/^no such image/.test(error.message)) return error;
  const isCommand = /^[a-z0-9._-]+$/.test(image) && ["/bin", "/usr/bin", "/sbin", "/usr/sbin"].some((dir) => existsSync(`${dir}/${image}`));
  if (!isCommand) return error;
  return new UsageError(`${error.message} (${image} looks like a command: the image comes first, as in diyc run NAME busybox ${image} ...)`);
}

/**
 * --env-file FILE (KEY=VALUE lines; # comments and blank lines skipped), then
 * -e, in order. A bare `VAR`, in either, passes the caller's value through,
 * and is left out when the caller has none (docker's rule).
 */
function environment(ctx: CliContext, parsed: ParsedArgs): string[] {
  const entries: string[] = [];
  for (const file of all(parsed, "env-file")) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read --env-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    for (const line of text.split("\n")) {
      const trimmed = line.replace(/\r$/, "");
      if (trimmed.trim() === "" || trimmed.trimStart().startsWith("#")) continue;
      entries.push(trimmed);
    }
  }
  entries.push(...all(parsed, "env"));
  return entries.flatMap((entry) => {
    if (entry.includes("=")) return [entry];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(entry)) throw new UsageError(`invalid environment variable ${JSON.stringify(entry)}: use KEY=VALUE or KEY`);
    const value = ctx.env?.[entry];
    return value === undefined ? [] : [`${entry}=${value}`];
  });
}

/**
 * An IPv4 or IPv6 address (node:net's check). node:net is loaded only here,
 * when --dns or --add-host is given: importing it costs every `diyc run`
 * about 3 ms (it brings node:stream and node:events with it).
 */
function isIP(text: string): boolean {
  return (require("node:net") as typeof import("node:net")).isIP(text) !== 0;
}

/** --dns ADDR (repeatable), --dns-search DOMAIN (repeatable): resolv.conf's nameserver and search lines. */
function dnsOptions(parsed: ParsedArgs): { dns?: { servers: string[]; search: string[] } } {
  const servers = all(parsed, "dns"), search = all(parsed, "dns-search");
  if (servers.length === 0 && search.length === 0) return {};
  for (const server of servers) {
    if (!isIP(server)) throw new UsageError(`invalid --dns ${JSON.stringify(server)}: an IPv4 or IPv6 address`);
  }
  for (const domain of search) {
    if (!/^[a-zA-Z0-9.-]{1,253}$/.test(domain)) throw new UsageError(`invalid --dns-search ${JSON.stringify(domain)}: a domain name`);
  }
  // Search domains alone keep the host's name servers, as docker does.
  const hostServers = servers.length > 0 ? [] : hostNameservers();
  return { dns: { servers: servers.length > 0 ? servers : hostServers, search } };
}

function hostNameservers(): string[] {
  try {
    return [...readFileSync("/etc/resolv.conf", "utf8").matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  } catch {
    return [];
  }
}

/** --add-host NAME:IP (docker's form; an IPv6 address may follow the first colon). */
function parseAddHost(value: string): { name: string; ip: string } {
  const colon = value.indexOf(":");
  const name = value.slice(0, colon), ip = value.slice(colon + 1);
  if (colon <= 0 || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,252})$/.test(name) || !isIP(ip)) {
    throw new UsageError(`invalid --add-host ${JSON.stringify(value)}: use NAME:IP`);
  }
  return { name, ip };
}

/** --userns=host (the default) or --userns=auto (a user namespace and an id range of its own). */
function parseUserns(value: string | undefined): "host" | "auto" {
  if (value === undefined || value === "host" || value === "auto") return value ?? "host";
  throw new UsageError(`invalid --userns ${JSON.stringify(value)}: use auto (root in the container is not root on the host) or host`);
}

/** no | always | on-failure[:N] */
export function parseRestart(value: string): RestartPolicy {
  if (value === "no" || value === "always") return { policy: value };
  const match = /^on-failure(?::(\d{1,6}))?$/.exec(value);
  if (!match) throw new UsageError(`invalid --restart ${JSON.stringify(value)}: use no, always or on-failure[:N]`);
  return match[1] === undefined ? { policy: "on-failure" } : { policy: "on-failure", maxRetries: Number(match[1]) };
}

const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;

/**
 * --security-opt seccomp=unconfined (no filter) or seccomp=FILE (a profile in
 * docker's JSON format); no-new-privileges is accepted (diyc always sets it).
 */
function seccompChoice(options: string[]): false | DockerSeccompProfile | undefined {
  let choice: false | DockerSeccompProfile | undefined;
  for (const option of options) {
    const [key, value = ""] = option.split(/[=:](.*)/s);
    if (key === "seccomp" && value === "unconfined") choice = false;
    else if (key === "seccomp" && value !== "") choice = readDockerProfile(value);
    else if (key === "no-new-privileges" && (value === "" || value === "true")) continue;
    else throw new UsageError(`unknown --security-opt ${JSON.stringify(option)}: use seccomp=unconfined, seccomp=FILE or no-new-privileges`);
  }
  return choice;
}

/** -i and -p imply the default bridge network, as the seed's -i did. */
function networkRequest(parsed: ParsedArgs, runtime: RuntimeContext): NetworkRequest {
  const ip = last(parsed, "ip");
  const publish = all(parsed, "publish").map(parsePublish);
  const mode = last(parsed, "net") ?? last(parsed, "network") ?? (ip !== undefined || publish.length > 0 ? "bridge" : "host");
  if (mode === "host" || mode === "none") {
    if (ip !== undefined || publish.length > 0) throw new UsageError(`-i and -p need a network of the container's own, not --net ${mode}`);
    return { mode };
  }
  if (runtime.store.rootless) {
    // No bridge for an ordinary user: pasta connects the container (network/rootless.ts).
    if (mode !== "bridge") throw new UsageError(`--net ${mode}: a rootless container has --net host, none or bridge (through pasta), not diyc's networks`);
    if (ip !== undefined) throw new UsageError("-i: a rootless container's address is pasta's (the host's), not one of diyc's bridge");
    return { mode: "pasta", publish };
  }
  const config = resolveNetwork(runtime, mode);
  return { mode: "bridge", config, ip: ip === undefined ? undefined : validateRequestedIp(config, ip), publish };
}

function resources(parsed: ParsedArgs) {
  return parseResourceFlags({
    memory: last(parsed, "mem") ?? last(parsed, "memory"),
    memorySwap: last(parsed, "memory-swap"),
    cpus: last(parsed, "cpus"),
    cpuShares: last(parsed, "cpu-shares"),
    cpusetCpus: last(parsed, "cpuset-cpus"),
    pidsLimit: last(parsed, "pids-limit"),
  }, { onlineCpus: navigator.hardwareConcurrency });
}

/** "1000" or "1000:1000": numeric ids only, since images may have no /etc/passwd. */
export function parseUser(value: string): { uid: number; gid: number } {
  const match = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(value);
  const uid = Number(match?.[1]);
  const gid = Number(match?.[2] ?? match?.[1]);
  if (!match || uid > 0xfffffffe || gid > 0xfffffffe) throw new UsageError(`invalid user ${JSON.stringify(value)}: use UID or UID:GID (numbers)`);
  return { uid, gid };
}

export const run: Command = async (args, ctx) => {
  const argv = disambiguateDashI(args);
  refuseVolumeAsVerbose(argv);
  const parsed = parseArgs(argv, OPTIONS, true);
  if (has(parsed, "help")) {
    ctx.print(RUN_HELP);
    return 0;
  }
  const { name, image, command, seedForm, nameGenerated = false } = chooseForm(ctx, parsed);
  const verbose = ctx.verbose || has(parsed, "verbose");
  const runtime = runtimeContext(ctx, verbose);
  // The image first (pulled if missing): its config decides the defaults below.
  const record = await ensureImage(ctx, image, ensureOptions(parsed, false, verbose)).catch((error: unknown) => {
    throw withCommandHint(error, image);
  });
  // The seed's form typed at a terminal keeps the seed's interactive feel: a pty, as -it gives.
  const seedInteractive = seedForm && !has(parsed, "tty") && !has(parsed, "interactive") && !has(parsed, "detach") &&
    ctx.syscalls.isatty(0) && ctx.syscalls.isatty(1);
  const layout = imageLayout(ctx.store);
  const applied = applyImageConfig(imageConfig(layout, record), {
    command, entrypoint: last(parsed, "entrypoint"), env: environment(ctx, parsed), workdir: last(parsed, "workdir"), user: last(parsed, "user"),
  }, layerFileReader(layerRoots(layout, record)));
  const options: Omit<ContainerOptions, "etcFiles" | "name" | "network"> = {
    args: applied.args,
    env: applied.env,
    cwd: applied.cwd,
    hostname: last(parsed, "hostname"),
    user: applied.user,
    readOnlyRoot: has(parsed, "read-only"),
    terminal: has(parsed, "tty") || seedInteractive,
    resources: resources(parsed),
    mounts: [...all(parsed, "volume").map(parseVolume), ...all(parsed, "tmpfs").map(parseTmpfs)],
    seccomp: seccompChoice(all(parsed, "security-opt")),
    capAdd: all(parsed, "cap-add"),
    capDrop: all(parsed, "cap-drop"),
    // Rootless, the container's root holds every capability, within its own user namespace.
    availableCapabilities: ctx.store.rootless ? kernelCapabilities() : ownCapabilities(),
    // The host's devices, listed now, as docker's --privileged gives them.
    ...(has(parsed, "privileged") ? { privileged: { devices: hostDevices().map((d) => ({ ...d, uid: 0, gid: 0 })) } } : {}),
    ...dnsOptions(parsed),
    extraHosts: all(parsed, "add-host").map(parseAddHost),
    userns: parseUserns(last(parsed, "userns")),
  };
  const detach = has(parsed, "detach");
  const restart = parseRestart(last(parsed, "restart") ?? "no");
  if (restart.policy !== "no" && !detach) throw new UsageError("--restart needs -d: the monitor of a detached container does the restarting");
  if (restart.policy !== "no" && has(parsed, "rm")) throw new UsageError("--restart and --rm cannot be used together");
  const logSize = last(parsed, "log-max-size");
  const request: RunRequest = {
    name, image, autoRemove: has(parsed, "rm"), options, network: networkRequest(parsed, runtime),
    imageConfig: { id: record.id, stopSignal: applied.stopSignal, exposedPorts: applied.exposedPorts, labels: applied.labels },
    detach, restart, init: has(parsed, "init"), interactive: has(parsed, "interactive") || seedInteractive, logMaxBytes: logSize === undefined ? DEFAULT_LOG_MAX_BYTES : parseMemory("--log-max-size", logSize, false),
  };
  // A wait that lasts goes on in diyc-wait, and `diyc _finish` (finish.ts) reports the outcome the same way.
  // Asked by the front (native/front.c): the host steps, recorded to be replayed without Bun next time.
  const recording = startRecording(ctx, request, verbose, nameGenerated, all(parsed, "env-file"));
  const outcome = await runContainer(recording ? runtimeContext(ctx, verbose, recording) : runtime, request, {
    inTerminalForeground: ctx.syscalls.inTerminalForeground(), handOff: true,
  });
  finishRecording(recording, outcome, `${detachedLine(name)}\n`);
  return reportOutcome(ctx, name, outcome);
};

/** What a detached run prints: the name, as docker prints the id. */
const detachedLine = (name: string) => name;

/** The exit code to return, and the OOM line docker users expect. */
export function reportOutcome(ctx: CliContext, name: string, outcome: RunOutcome): number {
  if (outcome.exitCode === undefined) {
    ctx.print(detachedLine(name));
    return 0;
  }
  const limit = outcome.memoryLimitBytes === undefined ? "" : ` (limit ${formatBytes(outcome.memoryLimitBytes, { space: true })})`;
  if (outcome.oomKilled) ctx.log(`diyc: container ${name} was killed: out of memory${limit}`);
  // The init outlived it: the container's own status says how it went on.
  else if (outcome.processOomKilled) ctx.log(`diyc: a process in container ${name} was killed: out of memory${limit}`);
  return outcome.exitCode;
}

