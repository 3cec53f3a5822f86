// The OCI image format's documents (image-spec v1.1), and Docker's v2
// schema 2 equivalents, which registries still serve for most images. Only
// the fields diyc reads are typed; everything else is kept as is in the blobs.

import { ImageError } from "./errors";

/** A content digest as diyc accepts one: sha256 only, lower-case hex. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The run-time part of an image config ("config" in the JSON). */
export interface ContainerConfigDoc {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: ContainerConfigDoc;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: unknown[];
}

export function isIndex(mediaType: string | undefined, doc: { manifests?: unknown; layers?: unknown }): boolean {
  if (mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList) return true;
  return mediaType === undefined && Array.isArray(doc.manifests) && doc.layers === undefined;
}

function fail(what: string, why: string): never {
  throw new ImageError(`${what}: ${why}`);
}

function checkDescriptor(what: string, d: unknown): Descriptor {
  const desc = d as Descriptor;
  if (typeof desc !== "object" || desc === null) fail(what, "a descriptor is not an object");
  if (typeof desc.digest !== "string" || !DIGEST_PATTERN.test(desc.digest)) fail(what, `unsupported digest ${JSON.stringify(desc.digest)} (sha256 only)`);
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) fail(what, `bad size for ${desc.digest}`);
  return desc;
}

export function parseManifest(what: string, bytes: Uint8Array): Manifest {
  const doc = parseJson(what, bytes) as Manifest;
  if (doc.schemaVersion !== 2) fail(what, `unsupported manifest schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  checkDescriptor(what, doc.config);
  if (!Array.isArray(doc.layers)) fail(what, "the manifest has no layers list");
  doc.layers.forEach((layer) => checkDescriptor(what, layer));
  return doc;
}

export function parseIndex(what: string, bytes: Uint8Array): Index {
  const doc = parseJson(what, bytes) as Index;
  if (!Array.isArray(doc.manifests)) fail(what, "the index has no manifests list");
  doc.manifests.forEach((m) => checkDescriptor(what, m));
  return doc;
}

export function parseConfig(what: string, bytes: Uint8Array): ImageConfig {
  const doc = parseJson(what, bytes) as ImageConfig;
  if (doc.rootfs?.type !== "layers" || !Array.isArray(doc.rootfs.diff_ids)) fail(what, "the image config has no rootfs.diff_ids");
  for (const id of doc.rootfs.diff_ids) if (!DIGEST_PATTERN.test(id)) fail(what, `unsupported diff id ${JSON.stringify(id)}`);
  const c = doc.config ?? {};
  const strings = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.every((x) => typeof x === "string"));
  if (!strings(c.Env) || !strings(c.Cmd) || !strings(c.Entrypoint)) fail(what, "Env, Cmd and Entrypoint must be lists of strings");
  if (c.User !== undefined && typeof c.User !== "string") fail(what, "User must be a string");
  if (c.WorkingDir !== undefined && typeof c.WorkingDir !== "string") fail(what, "WorkingDir must be a string");
  return doc;
}

export function parseJson(what: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ImageError(`${what}: not valid JSON (${(error as Error).message})`);
  }
}

/** The host's platform, in OCI's words. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

/** "linux/amd64", "linux/arm64/v8". */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, ...extra] = text.split("/");
  if (!os || !architecture || extra.length > 0) throw new ImageError(`invalid platform ${JSON.stringify(text)}: use OS/ARCH[/VARIANT]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** The index entry for `want`: an exact variant match first, then any variant of the architecture. */
export function choosePlatform(index: Index, want: Platform): Descriptor | undefined {
  const candidates = index.manifests.filter((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture);
  if (want.variant !== undefined) return candidates.find((m) => m.platform?.variant === want.variant);
  return candidates.find((m) => m.platform?.variant === undefined) ?? candidates[0];
}
