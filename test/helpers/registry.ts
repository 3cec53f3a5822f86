// A real registry for tests: Debian's docker-registry (the reference
// distribution registry), on 127.0.0.1 and a free port, with its own config
// and storage directory, stopped by its pid. Optionally behind TLS with a
// certificate made here by openssl, with htpasswd or token auth.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** bin/diyc (not imported from ./diyc: that one needs bun:test, and bench/ uses this file too). */
const DIYC = resolve(import.meta.dir, "../../bin/diyc");

export const REGISTRY_BINARY = "/usr/bin/docker-registry";
export const SKOPEO = "/usr/bin/skopeo";

export interface RegistryOptions {
  tls?: { cert: string; key: string };
  htpasswd?: string;
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export interface RunningRegistry {
  host: string;
  port: number;
  storage: string;
  pid: number;
  stop(): Promise<void>;
}

/** A port nothing listens on right now (the kernel picks it). */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

export async function startRegistry(dir: string, options: RegistryOptions = {}): Promise<RunningRegistry> {
  const storage = join(dir, "storage");
  mkdirSync(storage, { recursive: true });
  const port = freePort();
  const lines = [
    "version: 0.1",
    "log:",
    "  level: error",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
  ];
  if (options.tls) lines.push("  tls:", `    certificate: ${options.tls.cert}`, `    key: ${options.tls.key}`);
  if (options.htpasswd) lines.push("auth:", "  htpasswd:", "    realm: diyc-test", `    path: ${options.htpasswd}`);
  if (options.token) {
    lines.push("auth:", "  token:", `    realm: ${options.token.realm}`, `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`, `    rootcertbundle: ${options.token.rootCertBundle}`);
  }
  const config = join(dir, "config.yml");
  writeFileSync(config, lines.join("\n") + "\n");
  const child = Bun.spawn([REGISTRY_BINARY, "serve", config], { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const scheme = options.tls ? "https" : "http";
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(`${scheme}://127.0.0.1:${port}/v2/`, { tls: { rejectUnauthorized: false } } as RequestInit);
      await response.body?.cancel();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`docker-registry did not start: ${await new Response(child.stderr).text()}`);
      }
      await Bun.sleep(50);
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    storage,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

/**
 * skopeo copy from an OCI layout to the registry. Asynchronous: a token
 * server in the test process must keep answering while skopeo runs.
 */
export async function push(layoutDir: string, tag: string, destination: string, extra: string[] = []): Promise<void> {
  const child = Bun.spawn([
    SKOPEO, "--insecure-policy", "copy", "--quiet", "--all", "--preserve-digests", ...extra,
    `oci:${layoutDir}:${tag}`, `docker://${destination}`,
  ], { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: layoutDir } });
  const stderr = await new Response(child.stderr).text();
  if ((await child.exited) !== 0) throw new Error(`skopeo copy ${tag} -> ${destination} failed: ${stderr}`);
}

/** A self-signed certificate for 127.0.0.1 (and a key), made by openssl. */
export function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
    "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  return { cert, key };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** bin/diyc, asynchronously: the test process keeps serving (a token server) while it runs. */
export async function diycAsync(root: string, args: string[], stdin?: string): Promise<Run> {
  const child = Bun.spawn([DIYC, "--root", root, ...args], {
    stdin: stdin === undefined ? "ignore" : Buffer.from(stdin),
    stdout: "pipe",
    stderr: "pipe",
    // As ./diyc's diycEnv: the store's own network registry, not the host's.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DIYC_NETWORKS: join(root, "network") },
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}
