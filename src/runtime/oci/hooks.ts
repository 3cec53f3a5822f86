// OCI hooks (config.md#posix-platform-hooks): host programs the runtime runs
// at points of the lifecycle, each with the container's state JSON on stdin.
//   prestart, createRuntime  after the namespaces exist, before pivot_root
//                            (here: while the init waits for CONTINUE)
//   poststart                after start has released the init
//   poststop                 at delete, after the container is gone
// A failing prestart/createRuntime hook fails create (which undoes itself);
// a failing poststart or poststop hook is reported and the rest go on, as
// the spec says. A hook's timeout kills it.

import { DiycError } from "../../linux/errors";
import type { Hook, Hooks } from "../../spec/oci";

export class HookError extends DiycError {}

export function runHook(kind: keyof Hooks, hook: Hook, state: object): void {
  const args = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  let child: ReturnType<typeof Bun.spawnSync>;
  try {
    child = Bun.spawnSync({
      cmd: [hook.path, ...args.slice(1)],
      argv0: args[0],
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
      stdin: Buffer.from(JSON.stringify(state)),
      stdout: "ignore",
      stderr: "pipe",
      timeout: hook.timeout !== undefined ? hook.timeout * 1000 : undefined,
      killSignal: "SIGKILL",
    });
  } catch (error) {
    throw new HookError(`${kind} hook ${hook.path}: ${(error as Error).message}`);
  }
  if (child.exitedDueToTimeout) throw new HookError(`${kind} hook ${hook.path}: timed out after ${hook.timeout} s`);
  if (child.exitCode !== 0) {
    const said = child.stderr?.toString().trim().split("\n").at(-1);
    const how = child.signalCode ? `was killed by ${child.signalCode}` : `exited with status ${child.exitCode}`;
    throw new HookError(`${kind} hook ${hook.path} ${how}${said ? `: ${said}` : ""}`);
  }
}

/** Runs every hook of `kind` in order; the first failure throws. */
export function runHooks(hooks: Hooks | undefined, kind: keyof Hooks, state: object): void {
  for (const hook of hooks?.[kind] ?? []) runHook(kind, hook, state);
}

/** Runs them all; failures are passed to `warn` and do not stop the rest (poststart, poststop). */
export function runHooksWarning(hooks: Hooks | undefined, kind: keyof Hooks, state: object, warn: (message: string) => void): void {
  for (const hook of hooks?.[kind] ?? []) {
    try {
      runHook(kind, hook, state);
    } catch (error) {
      warn((error as Error).message);
    }
  }
}
