// The container lifecycle: create (everything up to the start barrier),
// start (exec the command), wait, and finish (clean up). `diyc run` is all
// four in a row. Each kernel step is traced with -v: "HOST|" lines from here,
// "CONTAINER|" lines from the init as it runs the plan.

import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { lastCapability } from "../linux/capabilities";
import { SIGNALS } from "../linux/signals";
import { DiycError, UsageError } from "../linux/errors";
import type { Syscalls } from "../linux/syscalls";
import { compileContainerPlan } from "../plan/compile";
import { encodePlan } from "../plan/encode";
import { buildContainerSpec, type ContainerOptions } from "../spec/container-spec";
import { validateName } from "../spec/names";
import {
  containerFiles, readConfig, readState, writeConfig, writeState,
  type ContainerConfig, type ContainerFiles, type ContainerState,
} from "./container";
import { exitCodeOf, HelperChannel, Sync } from "./helper-channel";
import { ContainerLock, withContainerLock } from "../store/lock";
import { identify } from "./process-identity";
import { connectContainer, disconnectContainer, prepareNetwork, type NetworkRequest } from "./networking";
import { cgroupViewForContainers, createContainerCgroup, primeCgroupMigration, releaseCgroup, type CgroupOutcome } from "./limits";
import { containerStatus } from "./status";
import type { CgroupManager } from "../cgroups/index";
import type { Store } from "../store/store";

export interface RuntimeContext {
  store: Store;
  syscalls: Syscalls;
  /** Receives "HOST| ..." trace lines; undefined unless -v. */
  trace?: (line: string) => void;
  /** How to run diyc again (the monitor's cleanup hook): absolute paths. */
  diycCommand: string[];
  /**
   * Resolves an image to its layer directories, top first (overlay's
   * lowerdir order), recording that `container` uses it; or throws.
   */
  imageLayers: (image: string, container: string) => Promise<string[]>;
  /** The host's cgroup driver (v1, v2 or hybrid), detected on first use. */
  cgroups: () => CgroupManager;
}

/** How to run a container: kept in container.json, so `diyc start` and restarts can do it again. */
export interface RunRequest {
  name: string;
  image: string;
  autoRemove: boolean;
  /** Everything but what diyc itself provides (etcFiles) or derives (network namespace). */
  options: Omit<ContainerOptions, "etcFiles" | "name" | "network">;
  network: NetworkRequest;
  /** Return once started; the monitor keeps the log and cleans up (run -d). */
  detach: boolean;
  /** A detached container's log: rotated to log.1 past this size. */
  logMaxBytes: number;
  restart: RestartPolicy;
  /** --init: a reaper as pid 1 that forwards signals to the command. */
  init?: boolean;
  /** What the image's config said that is not in the spec (src/image/run-config.ts). */
  imageConfig?: { id: string; stopSignal?: string; exposedPorts?: string[]; labels?: Record<string, string> };
}

export type RestartPolicy =
  | { policy: "no" }
  | { policy: "always" }
  | { policy: "on-failure"; maxRetries?: number };

/** A created container: its init is parked at the start barrier. */
export interface CreatedContainer {
  name: string;
  config: ContainerConfig;
  state: ContainerState;
  channel: HelperChannel;
  initPid: number;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a missing source fails later, at the mount, with its path
  }
}

function hostsFile(hostname: string): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`;
}

/** The files diyc provides inside the container, kept in its directory and bind-mounted. */
function writeEtcFiles(files: ContainerFiles, hostname: string): void {
  writeFileSync(files.hostname, `${hostname}\n`);
  writeFileSync(files.hosts, hostsFile(hostname));
  if (existsSync("/etc/resolv.conf")) copyFileSync("/etc/resolv.conf", files.resolvConf);
  else writeFileSync(files.resolvConf, "");
}

/**
 * Claims the name, or reuses the stopped container of that name: its files
 * persist between runs (the seed's behaviour). Returns whether it is new.
 */
function claimContainer(store: Store, name: string, image: string): boolean {
  const files = containerFiles(store, name);
  try {
    mkdirSync(files.dir, { mode: 0o700 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const status = containerStatus(store, name);
  if (status.status !== "exited") throw new UsageError(`container ${name} is already ${status.status}`);
  const previous = readConfig(store, name);
  if (previous && previous.image !== image) {
    throw new UsageError(`container ${name} exists with image ${previous.image}; remove it first (diyc rm ${name})`);
  }
  return false;
}

/** Creates the container up to the start barrier. The caller holds its lock. */
export async function createContainer(ctx: RuntimeContext, request: RunRequest, restartCount = 0): Promise<CreatedContainer> {
  const { store, trace } = ctx;
  const name = validateName("container", request.name);
  // By id when known: a container keeps the image it was made from, even if the name moves on.
  const lowerdirs = await ctx.imageLayers(request.imageConfig?.id ?? request.image, name);
  const files = containerFiles(store, name);
  // The spec validates the rest of the request (-e, -w, --hostname): before anything is made.
  const spec = buildContainerSpec({ ...request.options, name, etcFiles: files, network: request.network.mode });
  const isNew = claimContainer(store, name, request.image);
  let channel: HelperChannel | undefined;
  let connected = false;
  try {
    for (const dir of [files.upper, files.work, files.merged]) mkdirSync(dir, { recursive: true, mode: 0o755 });
    writeEtcFiles(files, spec.hostname!);
    rmSync(files.exit, { force: true });
    rmSync(files.state, { force: true });
    const config: ContainerConfig = {
      name, image: request.image, createdAtMs: Date.now(), spec, request,
    };
    writeConfig(store, config);
    prepareNetwork(ctx, name, request.network);

    const plan = compileContainerPlan({
      spec,
      rootfs: { lowerdirs, upperdir: files.upper, workdir: files.work, merged: files.merged },
      exitRecord: files.exit,
      cleanupHook: [...ctx.diycCommand, "--root", store.root, "_cleanup", name],
      isDirectory,
      cgroupView: cgroupViewForContainers(ctx.cgroups()),
      detached: request.detach ? { logPath: files.log, logMaxBytes: request.logMaxBytes } : undefined,
      init: request.init,
    }, lastCapability());

    trace?.(`HOST| spawn the helper (native/build/diyc-helper, from a sealed memfd) and send it the plan (${plan.ops.length} steps)`);
    // A detached container's monitor must not hold the user's terminal: only
    // the -v trace goes there, while diyc is still running.
    const stdio = request.detach ? (["ignore", "ignore", trace ? "inherit" : "ignore"] as const) : undefined;
    channel = HelperChannel.open(plan, encodePlan(plan, trace !== undefined), ctx.syscalls, stdio);
    trace?.(`HOST| ${plan.ops[0]!.describe}`);
    // While the helper starts and clones: the cgroup needs no pid to exist.
    const cgroup = createContainerCgroup(ctx.cgroups(), name, spec.linux.resources);
    const initPid = channel.expect(Sync.Pid, "clone the container").a;
    const monitor = identify(channel.helper.pid);
    const init = identify(initPid);
    if (!monitor || !init) throw new DiycError(`container ${name}: its init (pid ${initPid}) died during set-up`);
    const state: ContainerState = { monitor, init, createdAtMs: Date.now(), ...(restartCount > 0 ? { restartCount } : {}) };
    writeState(store, name, state);
    trace?.(`HOST| init is pid ${initPid} on the host; monitor is pid ${monitor.pid}`);

    cgroup.addProcess(initPid);
    connected = true;
    config.network = connectContainer(ctx, name, initPid, request.network);
    if (config.network) writeConfig(store, config);

    trace?.("HOST| release the init: run the plan");
    channel.send(Sync.Continue);
    channel.expect(Sync.Ready, "set up the container");
    return { name, config, state, channel, initPid };
  } catch (error) {
    await abandon(ctx, name, isNew, channel, connected ? request.network : undefined);
    throw error;
  }
}

/** Undo a failed create: stop the helper (it kills the init) and remove what was made. */
async function abandon(
  ctx: RuntimeContext, name: string, isNew: boolean, channel: HelperChannel | undefined, network: NetworkRequest | undefined,
): Promise<void> {
  if (channel) {
    channel.close();
    // The helper kills the init and exits; waiting makes sure no process outlives the failure.
    await channel.helper.exited;
  }
  const files = containerFiles(ctx.store, name);
  const undo: (() => void)[] = [
    // A failed attach undoes itself; one that succeeded before a later step failed is undone here.
    () => network?.mode === "bridge" && disconnectContainer(ctx, name, { mode: "bridge", network: network.config.name }),
    () => releaseCgroup(ctx.cgroups(), name),
    () => (isNew ? rmSync(files.dir, { recursive: true, force: true }) : rmSync(files.state, { force: true })),
  ];
  for (const step of undo) {
    try {
      step();
    } catch {
      // best effort: each undo step runs even if another failed; the error the
      // user sees is the original one, and the next command on the name reconciles.
    }
  }
}

/** Tells the init to exec the command. */
export async function startContainer(ctx: RuntimeContext, created: CreatedContainer): Promise<void> {
  ctx.trace?.("HOST| start: exec the command");
  created.channel.send(Sync.Start);
  try {
    created.channel.expect(Sync.Started, "start the command");
  } catch (error) {
    created.channel.close();
    await created.channel.helper.exited;
    throw error;
  }
  writeState(ctx.store, created.name, { ...created.state, startedAtMs: Date.now() });
}

const FORWARDED_SIGNALS = ["TERM", "HUP", "USR1", "USR2", "INT", "QUIT", "WINCH"] as const;

/**
 * Waits for the container's exit while forwarding signals sent to diyc.
 * From a terminal, Ctrl-C and Ctrl-\ already reach the container (it is in
 * the terminal's foreground process group), so those are not sent twice.
 */
export async function waitContainer(ctx: RuntimeContext, created: CreatedContainer, stdinIsTerminal: boolean): Promise<number> {
  const forward = (signal: string) => () => {
    try {
      ctx.syscalls.kill(created.initPid, SIGNALS[signal]!);
    } catch {
      // best effort: the init may have exited between the signal and now
    }
  };
  const handlers = FORWARDED_SIGNALS
    .filter((s) => !(stdinIsTerminal && (s === "INT" || s === "QUIT" || s === "WINCH")))
    .map((signal) => [`SIG${signal}` as const, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    const message = await created.channel.receiveAsync();
    if (message?.type !== Sync.Exit) throw created.channel.failure(message, "report the exit status");
    await created.channel.helper.exited;
    ctx.trace?.(`HOST| the init exited (wait status ${message.a})`);
    return exitCodeOf(message.a);
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    created.channel.close();
  }
}

/**
 * After the init has exited: release what the host holds for the container,
 * and delete it if it was run with --rm. Safe to call twice (the monitor's
 * hook and diyc may both get here) and on a container that is gone.
 */
export function finishContainer(ctx: RuntimeContext, name: string): CgroupOutcome {
  const config = readConfig(ctx.store, name);
  if (!config) return { oomKilled: false };
  if (containerStatus(ctx.store, name).status !== "exited") return { oomKilled: false };
  const outcome = releaseCgroup(ctx.cgroups(), name);
  if (outcome.oomKilled) {
    const state = readState(ctx.store, name);
    if (state) writeState(ctx.store, name, { ...state, oomKilled: true });
  }
  disconnectContainer(ctx, name, config.network);
  if (config.request.autoRemove) {
    ctx.trace?.(`HOST| remove container ${name} (--rm)`);
    rmSync(containerFiles(ctx.store, name).dir, { recursive: true, force: true });
  }
  return outcome;
}

export interface RunOutcome extends CgroupOutcome {
  /** undefined for a detached container: it is still running. */
  exitCode?: number;
  /** `proceed` said no: nothing was started. */
  cancelled?: boolean;
}

/**
 * Leaves a started container to its monitor: our end of the socket closes,
 * so the monitor's EXIT finds nobody and it runs the cleanup hook instead.
 */
function detachFrom(created: CreatedContainer): void {
  created.channel.close();
  created.channel.helper.unref();
}

/**
 * create + start + wait + finish: `diyc run` (and `diyc start`, with the stored request).
 * `proceed`, checked once the name's lock is held, lets a restart give way to a
 * `stop` or `rm` that came first.
 */
export async function runContainer(
  ctx: RuntimeContext, request: RunRequest, stdinIsTerminal: boolean, restartCount = 0, proceed: () => boolean = () => true,
): Promise<RunOutcome> {
  validateName("container", request.name); // before the name becomes a lock file's name
  primeCgroupMigration();
  ctx.store.ensure();
  const lock = ContainerLock.acquire(ctx.store, request.name, ctx.syscalls);
  if (!proceed()) {
    lock.release();
    return { oomKilled: false, cancelled: true };
  }
  let created: CreatedContainer;
  try {
    created = await createContainer(ctx, request, restartCount);
    await startContainer(ctx, created);
  } catch (error) {
    finishAfterFailure(ctx, request.name, lock);
    throw error;
  }
  lock.release();
  if (request.detach) {
    detachFrom(created);
    return { oomKilled: false };
  }
  const exitCode = await waitContainer(ctx, created, stdinIsTerminal);
  const outcome = await withContainerLock(ctx.store, request.name, ctx.syscalls, () => finishContainer(ctx, request.name));
  return { exitCode, ...outcome };
}

function finishAfterFailure(ctx: RuntimeContext, name: string, lock: ContainerLock): void {
  try {
    finishContainer(ctx, name);
  } finally {
    lock.release();
  }
}
