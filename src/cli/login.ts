// `diyc login [-u USER] [--password-stdin | -p PASSWORD] [--insecure-registry] REGISTRY`
// and `diyc logout REGISTRY`. The credentials are checked against the
// registry (GET /v2/, answering its challenge) before they are stored, in
// ROOT/auth.json, mode 0600.

import { UsageError } from "../linux/errors";
import { ImageError } from "../image/errors";
import { readCredentials, registrySettings, writeCredentials } from "../image/pull";
import { RegistryClient } from "../image/registry";
import { all, has, last, parseArgs } from "./args";
import type { Command } from "./context";

const USAGE = "usage: diyc login [-u USER] [--password-stdin | -p PASSWORD] [--insecure-registry HOST:PORT] REGISTRY";

export const login: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [
    { long: "username", short: "u", value: true },
    { long: "password", short: "p", value: true },
    { long: "password-stdin" },
    { long: "insecure-registry", value: true },
  ], false);
  const [registry, ...extra] = parsed.positionals;
  if (registry === undefined || extra.length > 0) throw new UsageError(USAGE);
  const username = last(parsed, "username");
  if (username === undefined) throw new UsageError(`login needs -u USER; ${USAGE}`);
  let password = last(parsed, "password");
  if (has(parsed, "password-stdin")) password = (await Bun.stdin.text()).replace(/\r?\n$/, "");
  if (password === undefined || password === "") throw new UsageError("login needs a password: --password-stdin or -p PASSWORD");
  const credentials = { username, password };
  const client = new RegistryClient(registry, "", {
    settings: registrySettings(ctx.store, registry, all(parsed, "insecure-registry")),
    credentials,
  });
  try {
    await client.ping();
  } catch (error) {
    throw new ImageError(`login to ${registry} failed: ${(error as Error).message}`);
  }
  writeCredentials(ctx.store, registry, credentials);
  ctx.print("Login Succeeded");
  return 0;
};

export const logout: Command = async (args, ctx) => {
  if (args.length !== 1) throw new UsageError("usage: diyc logout REGISTRY");
  if (!readCredentials(ctx.store, args[0]!)) throw new ImageError(`not logged in to ${args[0]}`);
  writeCredentials(ctx.store, args[0]!, undefined);
  ctx.print(`Removed login credentials for ${args[0]}`);
  return 0;
};
