// `diyc pull [--platform OS/ARCH] [--insecure-registry HOST:PORT]... [-q] REF`,
// and ensureImage, which `run` uses to pull an image it does not have.

import { UsageError } from "../linux/errors";
import { ImageError } from "../image/errors";
import { BUILTIN_IMAGE, ensureBuiltinImage } from "../image/builtin";
import { findImage, imageLayout, type ImageRecord } from "../image/images";
import { parsePlatform, type Platform } from "../image/oci-image";
import { pullImage } from "../image/pull";
import { parseReference } from "../image/reference";
import { all, has, last, parseArgs, type OptionSpec } from "./args";
import type { CliContext, Command } from "./context";
import { layerProgress } from "./progress";

const HELP = `Usage: diyc pull [options] REF

Fetches an image from a registry (the OCI distribution API) into the store.
REF is [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]; without a registry, Docker Hub.
Layers already in the store are not fetched again.

Options:
      --platform OS/ARCH[/VARIANT]   from a multi-platform index (default: this host's)
      --insecure-registry HOST:PORT  plain HTTP for this registry (repeatable)
  -q, --quiet                        print only the image id
  -v, --verbose                      print each request
  -h, --help                         this help

Per-registry settings (plain HTTP, a CA certificate) go in ROOT/registries.json;
logins (diyc login) in ROOT/auth.json. See docs/images.md.`;

export const PULL_OPTIONS: OptionSpec[] = [
  { long: "platform", value: true },
  { long: "insecure-registry", value: true },
];

export interface EnsureOptions {
  platform?: Platform;
  insecureRegistries: string[];
  quiet: boolean;
  verbose: boolean;
}

export function ensureOptions(parsed: ReturnType<typeof parseArgs>, quiet: boolean, verbose: boolean): EnsureOptions {
  const platform = last(parsed, "platform");
  return {
    platform: platform === undefined ? undefined : parsePlatform(platform),
    insecureRegistries: all(parsed, "insecure-registry"),
    quiet,
    verbose,
  };
}

async function pullWithProgress(ctx: CliContext, text: string, options: EnsureOptions): Promise<ImageRecord> {
  const ref = parseReference(text);
  const progress = options.quiet ? undefined : await layerProgress(ctx);
  try {
    const result = await pullImage(ctx.store, ref, ctx.syscalls, {
      platform: options.platform,
      insecureRegistries: options.insecureRegistries,
      progress: progress?.progress,
      trace: options.verbose ? ctx.log : undefined,
    });
    progress?.finish();
    return result.record;
  } finally {
    progress?.stop();
  }
}

/**
 * The image `text` names: from the store, built in, or pulled as docker run
 * does, but only from a registry the name spells out ("127.0.0.1:5000/app",
 * "docker.io/library/debian"): a bare "debian" that is not in the store is an
 * error, not a lookup of Docker Hub that a typo would send over the network.
 */
export async function ensureImage(ctx: CliContext, text: string, options: EnsureOptions): Promise<ImageRecord> {
  const layout = imageLayout(ctx.store);
  const found = findImage(layout, text);
  if (found) return found;
  if (text === BUILTIN_IMAGE) return ensureBuiltinImage(ctx.store, ctx.syscalls);
  if (parseReference(text).registry === undefined) throw new ImageError(`no such image: ${text}`);
  if (!options.quiet) ctx.log(`Unable to find image ${text} in the store: pulling it`);
  return pullWithProgress(ctx, text, options);
}

export const pull: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [...PULL_OPTIONS, { long: "quiet", short: "q" }, { long: "verbose", short: "v" }, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new UsageError("usage: diyc pull [--platform OS/ARCH] [--insecure-registry HOST:PORT] [-q] REF");
  const quiet = has(parsed, "quiet");
  const options = ensureOptions(parsed, quiet, ctx.verbose || has(parsed, "verbose"));
  const record = await pullWithProgress(ctx, parsed.positionals[0]!, options);
  if (!quiet) ctx.log(`pulled ${parseReference(parsed.positionals[0]!).name}`);
  ctx.print(record.id);
  return 0;
};
