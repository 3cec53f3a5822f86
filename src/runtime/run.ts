// The container lifecycle: create (everything up to the start barrier),
// start (exec the command), wait, and finish (clean up). `diyc run` is all
// four in a row. Each kernel step is traced with -v: "HOST|" lines from here,
// "CONTAINER|" lines from the init as it runs the plan.

import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { lastCapability } from "../linux/capabilities";
import { SIGNALS } from "../linux/signals";
import { DiycError, UsageError } from "../linux/errors";
import { compileContainerPlan } from "../plan/compile";
import { encodePlan } from "../plan/encode";
import { NATIVE_CONSTANTS } from "../plan/ops";
import { buildContainerSpec } from "../spec/container-spec";
import { validateName } from "../spec/names";
import {
  containerFiles, readConfig, writeConfig, writeState,
  type ContainerConfig, type ContainerFiles, type ContainerState, type RunRequest,
} from "./container";
import { diycAgain, type RuntimeContext } from "./context";
import { removeTree } from "../image/tree";
import { exitCodeOf } from "../linux/wait-status";
import { HelperChannel, Sync, type SyncMessage } from "./helper-channel";
import { handOffWait } from "./hand-off";
import { ContainerLock, withContainerLock } from "../store/lock";
import { identify } from "../linux/process-identity";
import { connectContainer, prepareNetwork } from "./networking";
import { finishContainer, releaseHostResources } from "./cleanup";
import { cgroupParentFor, cgroupViewForContainers, createContainerCgroup, primeCgroupMigration, withOwnCgroup, type CgroupOutcome } from "./limits";
import { containerStatus } from "./status";
import { hostsFileContent, standaloneEntries } from "../network/hosts";
import { removeStaleTempFiles } from "./repair";
import { claimIdRange, writeIdMaps } from "./userns";
import { rootlessIdMaps, writeMapsWithHelpers } from "../linux/rootless";
import { watchSeccompDenials, type SeccompWatch } from "./seccomp-watch";
import { sentinel, type StartRecording } from "./prepared";
import { framePlan } from "../plan/encode";
import type { Store } from "../store/store";


/** A created container: its init is parked at the start barrier. */
export interface CreatedContainer {
  name: string;
  config: ContainerConfig;
  state: ContainerState;
  channel: HelperChannel;
  initPid: number;
}

/** The exit record's reserved space: the monitor overwrites it in place, then renames it to exit.json. */
const EXIT_RECORD_RESERVE = NATIVE_CONSTANTS.EXIT_RECORD_BYTES;

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a missing source fails later, at the mount, with its path
  }
}


/** The files diyc provides inside the container, kept in its directory and bind-mounted. */
function writeEtcFiles(files: ContainerFiles, hostname: string, options: RunRequest["options"], recording?: StartRecording): void {
  // writeFileSync's mode, 0666 less the umask, as the front's open(2) gives it.
  const write = (path: string, text: string, mode = 0o666) => {
    recording?.add("file", path, mode.toString(8), text);
    writeFileSync(path, text, { mode });
  };
  write(files.hostname, `${hostname}\n`);
  // --add-host entries are kept beside it: a bridge network rewrites the file
  // with every container of the network, and appends these (network/hosts.ts).
  // (None is no file: its reader takes a missing one for empty, and a file costs a create and an unlink.)
  const extra = (options.extraHosts ?? []).map((h) => ({ ip: h.ip, names: [h.name] }));
  if (extra.length > 0) write(files.hostsExtra, extra.map((e) => `${e.ip}\t${e.names.join(" ")}\n`).join(""));
  else {
    recording?.add("rm", files.hostsExtra);
    rmSync(files.hostsExtra, { force: true }); // a rerun's earlier --add-host entries
  }
  write(files.hosts, hostsFileContent([...standaloneEntries(hostname), ...extra]));
  // The host's resolver configuration (or --dns and --dns-search), as a file of the
  // container's own with the mode of /etc/hosts (a copy would keep the host file's mode, 0755 on some hosts).
  const hostResolver = !options.dns && existsSync("/etc/resolv.conf"); // (a recording checks it: cli/prepared.ts)
  const resolver = options.dns
    ? [...options.dns.servers.map((s) => `nameserver ${s}\n`), ...(options.dns.search.length > 0 ? [`search ${options.dns.search.join(" ")}\n`] : [])].join("")
    : hostResolver ? readFileSync("/etc/resolv.conf", "utf8") : "";
  write(files.resolvConf, resolver, 0o644);
  recording?.add("chmod", files.resolvConf, "644");
  chmodSync(files.resolvConf, 0o644); // an existing file (a rerun) keeps its mode through writeFileSync
}

/**
 * Claims the name, or reuses the stopped container of that name: its files
 * persist between runs (the seed's behaviour). Returns whether it is new.
 */
function claimContainer(store: Store, name: string, image: string, recording?: StartRecording): boolean {
  const files = containerFiles(store, name);
  try {
    mkdirSync(files.dir, { mode: 0o700 });
    recording?.add("claim", files.dir, "700");
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  recording?.refuse("the container existed before this run");
  const status = containerStatus(store, name);
  if (status.status !== "exited") throw new UsageError(`container ${name} is already ${status.status}`);
  removeStaleTempFiles(files.dir); // a killed diyc's half-written files
  const previous = readConfig(store, name);
  if (previous && previous.image !== image) {
    throw new UsageError(`container ${name} exists with image ${previous.image}; remove it first (diyc rm ${name})`);
  }
  return false;
}

/**
 * Whether the monitor holds the init's mount namespace until it has reported
 * the exit (the kernel's unmounting then overlaps diyc's clean-up). Only with
 * --rm: a kept container's next run must not mount an overlay over upper/work
 * that the kernel is still unmounting.
 */
export function holdsMountNamespace(request: RunRequest): boolean {
  return request.autoRemove;
}

/** Creates the container up to the start barrier. The caller holds its lock. */
export async function createContainer(ctx: RuntimeContext, request: RunRequest, restartCount = 0): Promise<CreatedContainer> {
  const { store, trace, recording } = ctx;
  const name = validateName("container", request.name);
  // By id when known: a container keeps the image it was made from, even if the name moves on.
  const lowerdirs = await ctx.imageLayers(request.imageConfig?.id ?? request.image, name);
  const files = containerFiles(store, name);
  // The spec validates the rest of the request (-e, -w, --hostname): before anything is made.
  const rootless = store.rootless;
  const rootlessMaps = rootless ? rootlessIdMaps(rootless) : undefined;
  // (--userns=auto is checked once its range is claimed; a rootless container refuses it here.)
  const checked = buildContainerSpec({ ...request.options, userns: rootless ? request.options.userns : "host", rootlessMaps, name, etcFiles: files, network: request.network.mode });
  const isNew = claimContainer(store, name, request.image, recording);
  let channel: HelperChannel | undefined;
  try {
    // --userns=auto: a range of host ids of the container's own, claimed host-wide.
    const usernsBase = request.options.userns === "auto" ? claimIdRange(store, name, ctx.subidFiles) : undefined;
    const spec = usernsBase === undefined ? checked
      : buildContainerSpec({ ...request.options, usernsBase, name, etcFiles: files, network: request.network.mode });
    if (usernsBase !== undefined) trace?.host(`user namespace: the container's ids 0-65535 are the host's ${usernsBase}-${usernsBase + 65535}`);
    for (const dir of [files.upper, files.work, files.merged]) {
      recording?.add("mkdir", dir, "755");
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    }
    writeEtcFiles(files, spec.hostname!, request.options, recording);
    recording?.add("file", files.exitReserve, "666", " ".repeat(EXIT_RECORD_RESERVE - 1) + "\n");
    writeFileSync(files.exitReserve, " ".repeat(EXIT_RECORD_RESERVE - 1) + "\n");
    const config: ContainerConfig = {
      name, image: request.image, createdAtMs: Date.now(), spec, request,
    };
    recording?.atomicJson(files.config, "644", { ...config, createdAtMs: sentinel("now") }, ["now"]);
    writeConfig(store, config);
    prepareNetwork(ctx, name, request.network);

    const plan = compileContainerPlan({
      spec,
      rootfs: { lowerdirs, upperdir: files.upper, workdir: files.work, merged: files.merged },
      exitRecord: { path: files.exit, reserve: files.exitReserve },
      cleanupHook: diycAgain(ctx, ["_cleanup", name]),
      holdMountNamespace: holdsMountNamespace(request),
      isDirectory,
      // In a user namespace cgroup v1 cannot be mounted: the container's own cgroups are bound instead (if it has any: rootless, maybe none).
      cgroupView: spec.linux.uidMappings && ctx.cgroups().mountpoints.length > 0
        ? withOwnCgroup(cgroupViewForContainers(ctx.cgroups()), cgroupParentFor(store), name)
        : cgroupViewForContainers(ctx.cgroups()),
      rootless: rootless !== undefined,
      detached: request.detach,
      log: { path: files.log, maxBytes: request.logMaxBytes },
      init: request.init,
      logSeccompDenials: trace !== undefined,
    }, lastCapability());

    trace?.host(`spawn the helper (native/build/diyc-helper, from a sealed memfd) and send it the plan (${plan.ops.length} steps)`);
    // A detached container's monitor must not hold the user's terminal: only
    // the -v trace goes there, while diyc is still running.
    // In the foreground the command reads the user's stdin only with -i (or -t), as with docker:
    // `while read x; do diyc run ...; done < list` must not hand the list to the first container.
    const stdio = request.detach
      ? (["ignore", "ignore", trace ? "inherit" : "ignore"] as const)
      : ([request.interactive !== false || request.options.terminal ? "inherit" : "ignore", "inherit", "inherit"] as const);
    const encoded = encodePlan(plan, trace !== undefined);
    recording?.add("spawn", ...stdio.map((mode) => (mode === "inherit" ? "inherit" : "null")), Buffer.from(framePlan(encoded)).toString("hex"));
    channel = HelperChannel.open(plan, encoded, ctx.syscalls, stdio);
    trace?.host(plan.ops[0]!.describe);
    // The helper's own kernel steps for the init, before CONTINUE: idmapped copies (--userns=auto).
    for (const op of plan.ops.filter((o) => o.code === "IdmapMount")) trace?.host(`${op.describe} (open_tree, mount_setattr)`);
    const hold = plan.ops.find((o) => o.code === "HoldMountNamespace");
    if (hold) trace?.host(hold.describe);
    // While the helper starts and clones: the cgroup needs no pid to exist.
    recording?.enter("create");
    const cgroup = createContainerCgroup(ctx.cgroups(), name, spec.linux.resources);
    recording?.enter("other");
    recording?.add("pid");
    const initPid = channel.expect(Sync.Pid, "clone the container").a;
    const monitor = identify(channel.helper.pid);
    const init = identify(initPid);
    if (!monitor || !init) throw new DiycError(`container ${name}: its init (pid ${initPid}) died during set-up`);
    const state: ContainerState = { monitor, init, createdAtMs: Date.now(), ...(restartCount > 0 ? { restartCount } : {}) };
    // The last run's records stay until now: a restart's ps and logs -f see "restarting" (its
    // state names the restarter) until this run's state replaces them, never a gap with none.
    recording?.add("rm", files.exit);
    rmSync(files.exit, { force: true });
    recordState(recording, files.state, state);
    writeState(store, name, state);
    if (rootless) {
      trace?.host(`newuidmap, newgidmap: map pid ${initPid}'s user namespace: 0 is uid ${rootless.uid}, 1-65536 are ${rootless.subuid}-${rootless.subuid + 65535} (gids ${rootless.gid}, ${rootless.subgid}-${rootless.subgid + 65535})`);
      writeMapsWithHelpers(initPid, rootless);
    } else if (spec.linux.uidMappings) {
      trace?.host(`write the uid and gid maps of pid ${initPid}'s user namespace`);
      writeIdMaps(initPid, spec.linux.uidMappings, spec.linux.gidMappings);
    }
    trace?.host(`init is pid ${initPid} on the host; monitor is pid ${monitor.pid}`);

    recording?.enter("procs");
    cgroup.addProcess(initPid);
    recording?.enter("other");
    config.network = connectContainer(ctx, name, initPid, request.network, spec.hostname);
    if (config.network) writeConfig(store, config);

    trace?.host("release the init: run the plan");
    recording?.add("continue");
    channel.send(Sync.Continue);
    channel.expect(Sync.Ready, "set up the container");
    return { name, config, state, channel, initPid };
  } catch (error) {
    await undoFailedCreate(ctx, name, isNew, channel);
    throw error;
  }
}

/** Undo a failed create: stop the helper (it kills the init) and remove what was made. */
async function undoFailedCreate(
  ctx: RuntimeContext, name: string, isNew: boolean, channel: HelperChannel | undefined,
): Promise<void> {
  if (channel) {
    channel.abort();
    // The helper kills the init and exits; waiting makes sure no process outlives the failure.
    await channel.helper.exited;
  }
  const files = containerFiles(ctx.store, name);
  const undo: (() => void)[] = [
    // A failed attach undoes itself; one that succeeded before a later step failed is undone here.
    () => releaseHostResources(ctx, name),
    () => (isNew ? removeTree(files.dir, ctx.store.rootless) : rmSync(files.state, { force: true })),
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
  ctx.trace?.host("start: exec the command");
  // Taken before START: the command may exit (and the monitor record its
  // finish time) before STARTED reaches us, and an exit record older than
  // the start would be taken for an earlier run's.
  const startedAtMs = Date.now();
  ctx.recording?.add("start");
  created.channel.send(Sync.Start);
  try {
    created.channel.expect(Sync.Started, "start the command");
  } catch (error) {
    created.channel.abort();
    await created.channel.helper.exited;
    throw error;
  }
  recordState(ctx.recording, containerFiles(ctx.store, created.name).state, { ...created.state, startedAtMs: sentinel("started") });
  writeState(ctx.store, created.name, { ...created.state, startedAtMs });
}

/** state.json as the front writes it: the identities and the creation time (and the start's) are the run's own. */
function recordState(recording: StartRecording | undefined, path: string, state: ContainerState): void {
  recording?.atomicJson(path, "644", {
    ...state,
    monitor: { pid: sentinel("monitor.pid"), startTime: sentinel("monitor.start") },
    init: { pid: sentinel("init.pid"), startTime: sentinel("init.start") },
    createdAtMs: sentinel("created"),
  }, ["monitor.pid", "monitor.start", "init.pid", "init.start", "created", ...(state.startedAtMs === undefined ? [] : ["started" as const])]);
}

const FORWARDED_SIGNALS = ["TERM", "HUP", "USR1", "USR2", "INT", "QUIT"] as const;
/** What a terminal sends its foreground process group: Ctrl-C, Ctrl-\\, a hang-up. */
const TERMINAL_SIGNALS: ReadonlySet<string> = new Set(["INT", "QUIT", "HUP"]);
/** docker's habit: the third Ctrl-C stops waiting politely and kills the container. */
const INTERRUPTS_TO_FORCE = 3;
/**
 * How long diyc itself waits for a foreground container before it hands the
 * wait to diyc-wait (hand-off.ts): a short command's exit is taken here, with
 * no second start of diyc; a longer one costs 0.1 MiB instead of Bun's 40 while
 * it runs, and one start of diyc (tens of ms) when it ends.
 */
const HAND_OFF_AFTER_MS = 50;

const forcedKillLine = (interrupts: number) => `interrupted ${interrupts} times: kill the container (SIGKILL)`;

/**
 * Waits for the container's exit while passing signals on to it; diyc itself
 * never dies of them, so it is there to report the exit and clean up.
 * Returns the monitor's message (EXIT; undefined at EOF).
 *
 * The init is in a session of its own, so the terminal never signals it. In
 * the terminal's foreground group, Ctrl-C reaches both diyc and the helper,
 * and the helper forwards it: diyc must not send it twice, only count. A
 * signal sent to diyc alone (kill PID) is forwarded by diyc.
 *
 * With `handOff`, a wait that lasts past HAND_OFF_AFTER_MS goes on in
 * diyc-wait, with the same policy, and this process becomes it: the call
 * never returns then (`diyc _finish` takes over), unless the hand-off failed.
 */
export async function waitContainer(
  ctx: RuntimeContext, created: CreatedContainer, inTerminalForeground: boolean, handOff = false,
): Promise<SyncMessage | undefined> {
  const send = (signal: number) => {
    try {
      ctx.syscalls.kill(created.initPid, signal);
    } catch {
      // best effort: the init may have exited between the signal and now
    }
  };
  // In the terminal's foreground, the terminal's own signals reached the monitor too: counted, not sent again.
  const forwarded: ReadonlySet<string> = new Set(FORWARDED_SIGNALS.filter((signal) => !(inTerminalForeground && TERMINAL_SIGNALS.has(signal))));
  let interrupts = 0;
  const handle = (signal: string) => () => {
    if (signal === "INT" && ++interrupts >= INTERRUPTS_TO_FORCE) {
      ctx.trace?.host(forcedKillLine(interrupts));
      send(SIGNALS.KILL!);
      return;
    }
    if (forwarded.has(signal)) send(SIGNALS[signal]!);
  };
  const handlers = FORWARDED_SIGNALS.map((signal) => [`SIG${signal}` as const, handle(signal)] as const);
  // The front waits as diyc-wait does, by the same policy, and ends as _finish when it cannot end alone.
  const numbers = (signals: readonly string[]) => signals.map((signal) => String(SIGNALS[signal]!)).join(",");
  ctx.recording?.add(
    "wait", numbers(FORWARDED_SIGNALS.filter((s) => forwarded.has(s))), numbers(FORWARDED_SIGNALS.filter((s) => !forwarded.has(s))),
    `${SIGNALS.INT}:${INTERRUPTS_TO_FORCE}:${SIGNALS.KILL}`,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    if (handOff) {
      if (await exitsWithin(created.channel, HAND_OFF_AFTER_MS)) return created.channel.receive();
      await handOffWait(ctx, {
        name: created.name, channel: created.channel, initPid: created.initPid,
        signals: () => ({
          forward: FORWARDED_SIGNALS.filter((signal) => forwarded.has(signal)).map((signal) => SIGNALS[signal]!),
          catchOnly: FORWARDED_SIGNALS.filter((signal) => !forwarded.has(signal)).map((signal) => SIGNALS[signal]!),
          count: {
            signal: SIGNALS.INT!, after: Math.max(1, INTERRUPTS_TO_FORCE - interrupts), action: SIGNALS.KILL!,
            ...(ctx.trace ? { trace: forcedKillLine(INTERRUPTS_TO_FORCE) } : {}),
          },
        }),
      });
    }
    return await created.channel.receiveAsync();
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

/**
 * Whether the monitor's message (or EOF) comes within `ms`. Polls the socket
 * without reading it, so that an EXIT that comes later is left for diyc-wait.
 * The signal handlers run between polls: what arrived meanwhile is forwarded
 * (and counted) before anything else happens.
 */
async function exitsWithin(channel: HelperChannel, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    const state = channel.pollReadable(Math.max(0, deadline - performance.now()));
    if (state === "readable") return true;
    await new Promise((resolve) => setImmediate(resolve));
    if (state === "timeout") return false;
  }
}

/**
 * The end of a foreground run, in the diyc that waited or in the one that
 * diyc-wait ran (`diyc _finish`): the exit status (-v says it), the
 * clean-up, then DONE. The monitor waits for DONE: if we die before it, it
 * runs the cleanup hook itself.
 */
export async function finishRun(
  ctx: RuntimeContext, name: string, channel: HelperChannel, message: SyncMessage | undefined,
): Promise<RunOutcome> {
  if (message?.type !== Sync.Exit) {
    channel.close(); // the helper cleans up with the hook
    await channel.helper.exited;
    throw channel.failure(message, "report the exit status");
  }
  ctx.trace?.host(`the init exited (wait status ${message.a})`);
  // The kernel's unmounting overlaps the clean-up; diyc still waits for the monitor, so for it too.
  // (Only -v needs the request for this line: the clean-up reads it itself.)
  const request = ctx.trace ? readConfig(ctx.store, name)?.request : undefined;
  if (request && holdsMountNamespace(request)) ctx.trace?.host("the monitor closes the mount namespace: the kernel unmounts the container's mounts");
  const exitCode = exitCodeOf(message.a);
  const { recording } = ctx;
  recording?.enter("release");
  const outcome = await withContainerLock(ctx.store, name, ctx.syscalls, () => finishContainer(ctx, name), recording);
  recording?.enter("other");
  recording?.add("done");
  channel.done();
  await channel.helper.exited;
  return { exitCode, ...outcome };
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

export interface RunOptions {
  /** diyc is in its terminal's foreground process group: Ctrl-C reaches the monitor too. */
  inTerminalForeground: boolean;
  restartCount?: number;
  /** Checked once the name's lock is held: lets a restart give way to a `stop` or `rm` that came first. */
  proceed?: () => boolean;
  /**
   * A foreground wait that lasts goes on in diyc-wait (hand-off.ts): this
   * process is replaced, and `diyc _finish` (src/cli/finish.ts) cleans up,
   * reports the outcome as the caller would, and exits.
   */
  handOff?: boolean;
}

/** create + start + wait + finish: `diyc run` (and `diyc start`, with the stored request). */
export async function runContainer(ctx: RuntimeContext, request: RunRequest, options: RunOptions): Promise<RunOutcome> {
  const { inTerminalForeground, restartCount = 0, proceed = () => true, handOff = false } = options;
  validateName("container", request.name); // before the name becomes a lock file's name
  const { recording } = ctx;
  // How the front hands a started run back to diyc: `_finish`, as diyc-wait does (hand-off.ts).
  recording?.add("finish", ...diycAgain(ctx, ["_finish", request.name]));
  if (!ctx.store.rootless) {
    const primed = primeCgroupMigration(); // a rootless container has no cgroup to migrate into
    if (primed) recording?.add("prime", primed);
  }
  for (const dir of ctx.store.ensure()) recording?.add("ensure", dir, "700");
  const lock = ContainerLock.acquire(ctx.store, request.name, ctx.syscalls, recording);
  if (!proceed()) {
    lock.release();
    return { oomKilled: false, cancelled: true };
  }
  let created: CreatedContainer;
  let denials: SeccompWatch | undefined;
  try {
    created = await createContainer(ctx, request, restartCount);
    // -v in the foreground: watch the kernel's log for the filter's refusals from before the command runs.
    if (ctx.trace && !request.detach && created.config.spec.linux.seccomp) denials = watchSeccompDenials(created.initPid, ctx.trace);
    await startContainer(ctx, created);
  } catch (error) {
    denials?.stop();
    finishAfterFailure(ctx, request.name, lock);
    throw error;
  }
  lock.release();
  if (request.detach) {
    recording?.add("detach");
    detachFrom(created);
    return { oomKilled: false };
  }
  let message: SyncMessage | undefined;
  try {
    // -v's seccomp refusals are read from the kernel's log by this process: then it waits on itself.
    message = await waitContainer(ctx, created, inTerminalForeground, handOff && denials === undefined);
  } catch (error) {
    created.channel.close(); // the helper cleans up with the hook
    await created.channel.helper.exited;
    throw error;
  } finally {
    denials?.stop();
  }
  return finishRun(ctx, request.name, created.channel, message);
}

function finishAfterFailure(ctx: RuntimeContext, name: string, lock: ContainerLock): void {
  try {
    finishContainer(ctx, name);
  } finally {
    lock.release();
  }
}
