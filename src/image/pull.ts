// `pull`: a reference -> the registry's manifest (or index: the platform's
// manifest) -> materializeImage (config, layers streamed into the store,
// commit). Plus where per-registry settings and logins are kept:
//
//   ROOT/registries.json   {"registries": {"HOST:PORT": {"insecure": true} | {"ca": "/path/ca.pem"}}}
//   ROOT/auth.json         {"auths": {"HOST:PORT": {"auth": base64("user:password")}}}, mode 0600
//
// Both live in the store's root, so --root gives a test (or a user) its own.

import { join } from "node:path";
import type { Syscalls } from "../linux/syscalls";
import { readJsonIfExists, writeFileAtomic } from "../store/atomic";
import type { Store } from "../store/store";
import { ImageError } from "./errors";
import { imageLayout, sha256, type ImageRecord } from "./images";
import { materializeImage, type Progress } from "./materialize";
import { choosePlatform, formatPlatform, hostPlatform, isIndex, parseIndex, parseJson, type Platform } from "./oci-image";
import { pullSource, type ImageReference } from "./reference";
import { RegistryClient, type Credentials, type RegistrySettings } from "./registry";
import { sweepStaleStaging } from "./layout";

export interface PullOptions {
  platform?: Platform;
  /** --insecure-registry HOST:PORT, on top of registries.json. */
  insecureRegistries?: string[];
  progress?: Progress;
  trace?: (line: string) => void;
}

export interface PullResult {
  record: ImageRecord;
  name: string;
  manifestDigest: string;
}

export function registriesConfigPath(store: Store): string {
  return join(store.root, "registries.json");
}

export function authFilePath(store: Store): string {
  return join(store.root, "auth.json");
}

export function registrySettings(store: Store, registry: string, insecureRegistries: string[] = []): RegistrySettings {
  const doc = readJsonIfExists<{ registries?: Record<string, RegistrySettings> }>(registriesConfigPath(store));
  const settings: RegistrySettings = { ...(doc?.registries?.[registry] ?? {}) };
  if (insecureRegistries.includes(registry)) settings.insecure = true;
  return settings;
}

export function readCredentials(store: Store, registry: string): Credentials | undefined {
  const auth = readJsonIfExists<{ auths?: Record<string, { auth?: string }> }>(authFilePath(store))?.auths?.[registry]?.auth;
  if (typeof auth !== "string") return undefined;
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Stores (or with undefined, forgets) a login. The file is 0600 from its first byte. */
export function writeCredentials(store: Store, registry: string, credentials: Credentials | undefined): void {
  const path = authFilePath(store);
  const doc = readJsonIfExists<{ auths?: Record<string, { auth?: string }> }>(path) ?? {};
  doc.auths ??= {};
  if (credentials) doc.auths[registry] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64") };
  else delete doc.auths[registry];
  store.ensure();
  writeFileAtomic(path, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
}

export function registryClient(store: Store, registry: string, repository: string, options: Pick<PullOptions, "insecureRegistries" | "trace">): RegistryClient {
  return new RegistryClient(registry, repository, {
    settings: registrySettings(store, registry, options.insecureRegistries),
    credentials: readCredentials(store, registry),
    trace: options.trace,
  });
}

export async function pullImage(store: Store, ref: ImageReference, syscalls: Syscalls, options: PullOptions = {}): Promise<PullResult> {
  const { registry, repository, reference } = pullSource(ref);
  const client = registryClient(store, registry, repository, options);
  const label = `${registry}/${repository}:${reference}`.replace(/:sha256:/, "@sha256:");
  const layout = imageLayout(store);
  layout.ensure();
  sweepStaleStaging(layout);
  let { bytes, mediaType } = await client.manifest(reference);
  let digest = sha256(bytes);
  if (ref.digest !== undefined && digest !== ref.digest) {
    throw new ImageError(`${label}: manifest digest mismatch: asked for ${ref.digest}, got ${digest}`);
  }
  const doc = parseJson(`${label}: manifest`, bytes) as { mediaType?: string; manifests?: unknown; layers?: unknown };
  if (isIndex(mediaType ?? doc.mediaType, doc)) {
    const index = parseIndex(`${label}: index`, bytes);
    const platform = options.platform ?? hostPlatform();
    const chosen = choosePlatform(index, platform);
    if (!chosen) {
      const offered = index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : "?")).join(", ");
      throw new ImageError(`${label}: no image for ${formatPlatform(platform)} (the index has: ${offered})`);
    }
    options.trace?.(`HOST| ${label} is an index: ${formatPlatform(platform)} is ${chosen.digest}`);
    ({ bytes, mediaType } = await client.manifest(chosen.digest));
    digest = sha256(bytes);
    if (digest !== chosen.digest) {
      throw new ImageError(`${label}: manifest ${chosen.digest}: digest mismatch: got ${digest}`);
    }
  }
  const record = await materializeImage(layout, syscalls, {
    readBlob: (d) => client.blob(d),
    streamBlob: (d) => client.blobStream(d),
  }, bytes, label, [ref.name], options.progress);
  return { record, name: ref.name, manifestDigest: digest };
}
