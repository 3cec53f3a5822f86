// A small getopt for the commands: long options (--name VALUE, --name=VALUE),
// short ones (-v, -e VALUE, -eVALUE, and bundles like -it), and "--".
// For run and exec, parsing stops at the first positional argument: what
// follows the image belongs to the container's command, as with docker.
// Hand-written because node:util's parseArgs cannot stop there: it would read
// the container command's own flags (`sh -c`) as diyc's.

import { UsageError } from "../linux/errors";

export interface OptionSpec {
  long: string;
  short?: string;
  /** Takes a value. */
  value?: boolean;
}

export interface ParsedArgs {
  /** Every value given for each option (by long name); "" for a flag. */
  options: Map<string, string[]>;
  positionals: string[];
}

export function parseArgs(args: string[], specs: OptionSpec[], stopAtPositional: boolean): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  const add = (spec: OptionSpec, value: string) => options.set(spec.long, [...(options.get(spec.long) ?? []), value]);

  let i = 0;
  const takeValue = (spec: OptionSpec, display: string): string => {
    const value = args[++i];
    if (value === undefined) throw new UsageError(`option ${display} needs a value`);
    return value;
  };
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown option --${name}`);
      if (spec.value) add(spec, eq < 0 ? takeValue(spec, arg) : arg.slice(eq + 1));
      else if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
      else add(spec, "");
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let k = 1; k < arg.length; k++) {
        const spec = byShort.get(arg[k]!);
        if (!spec) throw new UsageError(`unknown option -${arg[k]}`);
        if (!spec.value) {
          add(spec, "");
          continue;
        }
        add(spec, k + 1 < arg.length ? arg.slice(k + 1) : takeValue(spec, `-${arg[k]}`));
        break;
      }
      continue;
    }
    if (stopAtPositional) {
      positionals.push(...args.slice(i));
      break;
    }
    positionals.push(arg);
  }
  return { options, positionals };
}

/** -v/--verbose, which every command that makes kernel calls takes: print each step. */
export const VERBOSE: OptionSpec = { long: "verbose", short: "v" };

export const has = (parsed: ParsedArgs, long: string) => parsed.options.has(long);
export const last = (parsed: ParsedArgs, long: string) => parsed.options.get(long)?.at(-1);
export const all = (parsed: ParsedArgs, long: string) => parsed.options.get(long) ?? [];
