// A prepared start: the host steps of a `diyc run`, written down as data so
// that the next identical run can be done by native/front.c without Bun.
//
// Bun's start and diyc's JavaScript are two thirds of a run's time
// (bench/README.md, "Issue 14"); the kernel's part, replayed from C, is
// under half of runc's whole run. So `bin/diyc` starts native/front.c. It
// reads the process's inputs (argv, working directory, ids, terminals,
// capabilities, allowed CPUs: cli/prepared.ts inputsOf), and looks for a
// recipe recorded under exactly those inputs. If there is none, it execs this diyc with DIYC_PREPARE=PATH
// appended to the environment, and a run that this module finds fully
// covered records its steps as it does them and writes them to PATH at the
// end. The next time, the front checks the recipe's validity conditions
// (the files it was made from: the diyc build, the image's records and
// layers, /etc/resolv.conf, the cgroup mounts, ...) and replays the steps.
// Any check that fails, and any step that does not go exactly as recorded
// before the command starts, makes the front undo what it did and exec this
// diyc after all: the slow path is always the reference.
//
// TypeScript still decides everything: every path, mode, text, cgroup write,
// the signal policy and the clean-up are recorded from what this diyc did.
// The front only substitutes the run's own numbers (times, pids) and runs
// the steps. docs/start-path.md describes the format and each step.

import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CgroupFs } from "../cgroups/index";
import type { DeviceProgram } from "../cgroups/v2/devices";
import type { RunRequest } from "./container";
import { jsonText, writeFileAtomic } from "../store/atomic";
import type { HostStepRecorder } from "../store/recording";
import type { Store } from "../store/store";

/** The first line of every recipe; native/front.c refuses any other. */
export const PREPARED_FORMAT = "diyc-prepared 1";
/** A recording suspended by a hand-off is saved as RECIPE.suspended-PID until `_finish` takes it up. */
export const SUSPENDED_SUFFIX = ".suspended-";
/** The environment entry the front appends: where to write the recipe. */
export const PREPARE_VARIABLE = "DIYC_PREPARE";
/**
 * Placeholders the front fills in: `now`, the time of the step; `created`,
 * the time the init's pid came (the state's creation); `started`, the time
 * taken just before START (ms since the epoch, as Date.now()); the monitor's
 * and the init's identities (linux/process-identity.ts).
 */
export const PLACEHOLDERS = ["now", "created", "started", "monitor.pid", "monitor.start", "init.pid", "init.start"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Marks a number to be replaced by a placeholder: negative and out of any real range. */
const SENTINEL_BASE = -7_340_000_000;
export const sentinel = (name: Placeholder) => SENTINEL_BASE - PLACEHOLDERS.indexOf(name);

/** The fs types whose mount lines the cgroup detection reads: a recipe is valid while they are the same. */
const CGROUP_FS_TYPES = ["cgroup", "cgroup2"];

type Phase = "other" | "create" | "procs" | "release";

/** A variable the run read, and what it found (undefined: unset). */
export type EnvironmentRead = readonly [name: string, value: string | undefined];

/**
 * What a run records while it runs. A run that meets anything the front
 * cannot replay as recorded calls refuse(): no recipe is written then.
 */
export class StartRecording implements HostStepRecorder {
  private readonly lines: string[] = [];
  private refusal: string | undefined;
  private phase: Phase = "other";
  /** Cgroups this run made (mkdir, not shared): removed with patience at the end. */
  private readonly made = new Set<string>();
  private lastStep: string | undefined;

  /**
   * @param path Where the recipe goes: the front chose it from the inputs.
   * @param head The recipe's first lines (the format, the inputs), or a suspended recording's text.
   * @param environment The variables the run read, asked at the end: they are checked
   *   before any step. Undefined when the run read the whole environment.
   */
  private constructor(
    readonly path: string,
    private readonly head: string,
    private readonly environment: () => readonly EnvironmentRead[] | undefined,
  ) {}

  /** A new recording, for the inputs the front keyed it by (cli/prepared.ts inputsOf). */
  static start(path: string, inputs: string, environment: () => readonly EnvironmentRead[] | undefined): StartRecording {
    return new StartRecording(path, `${PREPARED_FORMAT}\n${line(["inputs", inputs])}`, environment);
  }

  /**
   * A recording suspended by a foreground run's hand-off (hand-off.ts), taken
   * up by `diyc _finish` to record the end: `text` is what save() wrote then.
   */
  static resume(path: string, text: string): StartRecording {
    const recording = new StartRecording(path, text.replace(/\n$/, ""), () => []);
    for (const saved of text.split("\n")) {
      const [op, dir] = saved.split("\t");
      if (op === "cg-mkdir" && dir !== undefined) recording.made.add(unescapeField(dir));
    }
    return recording;
  }

  add(op: string, ...fields: string[]): void {
    this.push(line([op, ...fields]));
  }

  private push(escaped: string): void {
    this.lastStep = escaped;
    this.lines.push(escaped);
  }

  /**
   * `atomic PATH MODE TEMPLATE`: `value` as writeJsonAtomic writes it, where
   * the numbers made by sentinel() for `used` become `${name}`. A text that
   * holds a sentinel's digits anywhere else (a user's string) is refused: the
   * front would fill it in.
   */
  atomicJson(path: string, mode: string, value: unknown, used: readonly Placeholder[]): void {
    let text = escapeField(jsonText(value)); // digits and "-" pass through escapeField unchanged
    for (const name of PLACEHOLDERS) {
      const pieces = text.split(String(sentinel(name)));
      if (pieces.length !== (used.includes(name) ? 2 : 1)) this.refuse(`a value of the run looks like the placeholder ${name}`);
      text = pieces.join(`\${${name}}`);
    }
    this.push(line(["atomic", path, mode]) + `\t${text}`);
  }

  refuse(why: string): void {
    this.refusal ??= why;
  }

  get refused(): string | undefined {
    return this.refusal;
  }

  /** The cgroup steps that follow are the container's create, its migration, or its release. */
  enter(phase: Phase): void {
    this.phase = phase;
  }

  /**
   * `stat PATH DEV INO SIZE MTIME_NS`: the recipe holds while the file is
   * this very one, unchanged. A directory is only the same inode ("-" for
   * size and time): its entries come and go.
   */
  sameFile(path: string): void {
    const st = statSync(path, { bigint: true });
    const [size, time] = st.isDirectory() ? ["-", "-"] : [String(st.size), String(st.mtimeNs)];
    this.add("stat", path, String(st.dev), String(st.ino), size, time);
  }

  /** `absent PATH`: the recipe holds while there is no such file (one made later may change a decision). */
  absent(path: string): void {
    this.add("absent", path);
  }

  /** `same PATH TEXT`: the recipe holds while the file reads exactly so (small files of /proc). */
  sameText(path: string): void {
    this.add("same", path, readFileSync(path, "utf8"));
  }

  /** Wraps the cgroup operations of this run: each becomes a step. */
  cgroupFs(inner: CgroupFs): CgroupFs {
    const recording = this;
    const inCreate = (what: string) => {
      if (recording.phase !== "create") recording.refuse(`a cgroup ${what} outside the container's create`);
    };
    return {
      // Each step is recorded once done: one that failed and was retried (a shared parent
      // that vanished, cgroups/fs.ts remakingVanishedParent) is in the recipe once.
      mkdir(path) {
        inCreate("mkdir");
        inner.mkdir(path);
        recording.made.add(path);
        recording.add("cg-mkdir", path);
      },
      ensureDir(path) {
        inCreate("mkdir");
        inner.ensureDir(path);
        recording.add("cg-ensure", path);
      },
      copyIfEmpty(path, from) {
        inCreate("write");
        inner.copyIfEmpty(path, from);
        recording.add("cg-fill", path, from);
      },
      enableControllers(dir, wanted) {
        inCreate("write");
        inner.enableControllers(dir, wanted);
        recording.add("cg-enable", dir, wanted.join(" "));
      },
      write(path, value) {
        if (recording.phase !== "procs") inCreate("write");
        inner.write(path, value);
        if (recording.phase === "procs") recording.add("cg-procs", path);
        else recording.add("cg-write", path, value);
      },
      rmdir(path) {
        if (recording.phase !== "release") recording.refuse("a cgroup was removed before the container ran (a stale one)");
        const step = [recording.made.has(path) ? "cg-rmdir" : "cg-rmdir-shared", path];
        if (recording.lastStep !== line(step)) recording.add(step[0]!, path); // removeCgroupDir's retries are one step
        inner.rmdir(path);
      },
      read(path) {
        // At the release the one read is the OOM killer's count (v1 memory.oom_control, v2
        // memory.events, key oom_kill): the front hands the end to diyc when it is not 0.
        if (recording.phase === "release" && /\/memory\.(oom_control|events)$/.test(path)) recording.add("oom", path, "oom_kill");
        // A control file of a cgroup this run has just made holds the kernel's default (v1's
        // memory.memsw.limit_in_bytes, read to order two writes): the same on every run of this
        // boot, whose cgroup mounts the recipe checks.
        else if (!(recording.phase === "create" && recording.made.has(dirname(path)))) recording.refuse(`a cgroup read (${path}) decided a step`);
        return inner.read(path);
      },
      // What exists decides nothing a replay could get wrong: before the create, whether a
      // stale cgroup is there (a replay's mkdir then fails: a miss); during it, whether a
      // control file of a cgroup just made is there (v1's memsw: the kernel's, for the boot).
      exists: (path) => inner.exists(path),
      attachDeviceProgram(path: string, program: DeviceProgram) {
        inCreate("bpf");
        inner.attachDeviceProgram(path, program);
        recording.add("cg-bpf", path, Buffer.from(program.instructions).toString("hex"));
      },
    };
  }

  /** The recipe's text: the head, the variables read, then one step per line; undefined if refused. */
  text(): string | undefined {
    const environment = this.environment();
    if (environment === undefined) this.refuse("the whole environment was read");
    if (this.refusal !== undefined) return undefined;
    const checks = environment!.map(([name, value]) => line(value === undefined ? ["unset", name] : ["env", name, value]));
    return [this.head, ...checks, ...this.lines].join("\n");
  }

  /**
   * Writes the text to `path` (the recipe's own by default), in the store's
   * directory of recipes; false if refused or not written (the next run then
   * records again).
   */
  save(path = this.path): boolean {
    const text = this.text();
    if (text === undefined) return false;
    try {
      mkdirSync(dirname(path), { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") return false;
    }
    try {
      writeFileAtomic(path, `${text}\n`, 0o600);
    } catch {
      return false; // best effort: without a recipe the next run takes the slow path again
    }
    pruneRecipes(dirname(path));
    return true;
  }
}

/**
 * How many recipes a store keeps. Each distinct command line has its own
 * (tens of kB: the plan, the configuration), and names made up per run
 * (`run --rm job-$RANDOM`) would add one each time: past this many, the
 * oldest written go. One in use is only recorded again.
 */
export const MAX_RECIPES = 64;

/** A recipe's name: 16 hex digits (front.c's hash of the inputs). */
const RECIPE_NAME = /^[0-9a-f]{16}$/;

/**
 * Removes the oldest recipes beyond MAX_RECIPES. Best effort. Only recipes:
 * a suspended recording is its `diyc _finish`'s, which removes it.
 */
function pruneRecipes(dir: string): void {
  const entries: { path: string; mtimeMs: number }[] = [];
  try {
    for (const name of readdirSync(dir).filter((n) => RECIPE_NAME.test(n))) {
      entries.push({ path: join(dir, name), mtimeMs: statSync(join(dir, name)).mtimeMs });
    }
  } catch {
    return; // one removed meanwhile by another diyc: the next save prunes
  }
  for (const old of entries.sort((a, b) => b.mtimeMs - a.mtimeMs).slice(MAX_RECIPES)) {
    try {
      rmSync(old.path, { force: true });
    } catch {
      // best effort: a recipe that stays is only a file
    }
  }
}

/** A recipe line: its fields escaped, joined by tabs. */
const line = (fields: readonly string[]) => fields.map(escapeField).join("\t");

/**
 * A field of a recipe line: backslash, tab, newline, NUL and "$" escaped, so
 * that a field is one line and a bare `${name}` is only ever a placeholder
 * (atomicJson).
 */
export function escapeField(text: string): string {
  return text.replace(/[\\\t\n$\0]/g, (c) => (c === "\t" ? "\\t" : c === "\n" ? "\\n" : c === "\0" ? "\\0" : `\\${c}`));
}

/** escapeField undone (as native/front.c unescape does). */
export function unescapeField(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === "t" ? "\t" : c === "n" ? "\n" : c === "0" ? "\0" : c));
}

/** The lines of a mount table whose fs type (the field after " - ") is one of `types`. */
export function mountLinesOfTypes(mountinfo: string, types: readonly string[] = CGROUP_FS_TYPES): string {
  return mountinfo.split("\n").filter((line) => types.includes(line.split(" - ")[1]?.split(" ")[0] ?? "")).map((line) => `${line}\n`).join("");
}

/**
 * Why this run cannot be replayed from a recipe, or undefined when it can.
 * What is left out is what would need more than recorded host steps (a
 * network attachment, id maps, a terminal, -v's own lines) or reads files
 * the recipe does not check (volumes, --privileged's devices, a seccomp
 * profile file).
 */
export function uncoveredBy(request: RunRequest, store: Store, verbose: boolean): string | undefined {
  const { options } = request;
  if (verbose) return "-v";
  if (store.rootless) return "rootless";
  if (options.terminal) return "-t";
  if (request.network.mode !== "host") return `--net ${request.network.mode}`;
  if ((options.mounts ?? []).length > 0) return "volumes or tmpfs";
  if (options.privileged) return "--privileged";
  if (options.seccomp) return "a seccomp profile file";
  if (options.userns === "auto") return "--userns=auto";
  if (request.restart.policy !== "no") return "--restart";
  return undefined;
}

/** The recipe's directory in a store: the front looks there. */
export function preparedDir(store: Store): string {
  return join(store.root, "prepared");
}

/** The diyc binaries a recipe was made by: it holds only while they are the same files. */
export function buildFiles(diycCommand: string[]): string[] {
  const [executable, script] = diycCommand;
  // From source (bun src/cli/diyc.ts) the script's directory is not one build: no recipes.
  if (script !== undefined || executable === undefined) return [];
  return [executable, join(dirname(executable), "diyc-front")];
}
