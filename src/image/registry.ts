// A client for the OCI distribution API (v2), on fetch: manifests and blobs
// by GET, bodies streamed, never buffered (but manifests and configs, which
// are small and bounded). Authentication as docker does it:
//
//   anonymous  first; a 401 names the scheme in WWW-Authenticate:
//   Bearer     realm="https://auth/token",service="reg",scope="repository:app:pull":
//              GET realm?service=&scope= (with basic credentials when we have
//              them, from `diyc login`), take {token|access_token}, retry with
//              "Authorization: Bearer TOKEN";
//   Basic      retry with the stored credentials.
//
// Transport per registry (registries.json, or --insecure-registry): plain
// HTTP for a local registry, or HTTPS with an extra CA certificate.

import { readFileSync } from "node:fs";
import { ImageError } from "./errors";
import { MediaType, type Descriptor } from "./oci-image";

export interface RegistrySettings {
  /** Plain HTTP (no TLS): for a registry on this machine. */
  insecure?: boolean;
  /** A PEM file with the CA that signed the registry's certificate. */
  ca?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  settings: RegistrySettings;
  credentials?: Credentials;
  /** Receives "HOST| GET ..." lines with -v. */
  trace?: (line: string) => void;
}

/** Docker Hub's API is not at docker.io. */
export function registryHost(registry: string): string {
  return registry === "docker.io" ? "registry-1.docker.io" : registry;
}

const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(", ");
/** Manifests and configs are JSON documents: anything bigger is not one. */
export const MAX_DOCUMENT_BYTES = 16 << 20;

export class RegistryClient {
  private authorization: string | undefined;
  private readonly base: string;
  private readonly tls: { ca?: string } | undefined;

  constructor(readonly registry: string, readonly repository: string, private readonly options: RegistryClientOptions) {
    const scheme = options.settings.insecure ? "http" : "https";
    this.base = `${scheme}://${registryHost(registry)}/v2/${repository}`;
    if (options.settings.ca !== undefined) {
      try {
        this.tls = { ca: readFileSync(options.settings.ca, "utf8") };
      } catch (error) {
        throw new ImageError(`registry ${registry}: cannot read its CA certificate ${options.settings.ca}: ${(error as Error).message}`);
      }
    }
  }

  /** The manifest (or index) for a tag or digest: its bytes and media type. */
  async manifest(reference: string): Promise<{ bytes: Uint8Array; mediaType: string | undefined }> {
    const response = await this.get(`/manifests/${reference}`, { Accept: MANIFEST_ACCEPT }, `manifest ${reference}`);
    const bytes = await readBounded(response, MAX_DOCUMENT_BYTES, `${this.where()}: manifest ${reference}`);
    const mediaType = response.headers.get("content-type")?.split(";")[0]?.trim();
    return { bytes, mediaType };
  }

  /** A small blob (a config), whole. The caller checks its digest. */
  async blob(descriptor: Descriptor): Promise<Uint8Array> {
    const response = await this.get(`/blobs/${descriptor.digest}`, {}, `blob ${descriptor.digest}`);
    return readBounded(response, MAX_DOCUMENT_BYTES, `${this.where()}: blob ${descriptor.digest}`);
  }

  /** A blob as a stream of its bytes (a layer). */
  async blobStream(descriptor: Descriptor): Promise<AsyncIterable<Uint8Array>> {
    const response = await this.get(`/blobs/${descriptor.digest}`, {}, `blob ${descriptor.digest}`);
    if (!response.body) throw new ImageError(`${this.where()}: blob ${descriptor.digest}: empty response`);
    return response.body as unknown as AsyncIterable<Uint8Array>;
  }

  /** GET /v2/: checks that the registry answers and that the credentials are accepted (login). */
  async ping(): Promise<void> {
    const url = `${this.base.slice(0, this.base.indexOf("/v2/"))}/v2/`;
    const response = await this.fetchWithAuth(url, {}, "the API root");
    await response.body?.cancel();
  }

  private where(): string {
    return `${this.registry}/${this.repository}`;
  }

  private async get(path: string, headers: Record<string, string>, what: string): Promise<Response> {
    return this.fetchWithAuth(`${this.base}${path}`, headers, what);
  }

  private async fetchWithAuth(url: string, headers: Record<string, string>, what: string): Promise<Response> {
    let response = await this.send(url, headers, what);
    if (response.status === 401) {
      const challenge = response.headers.get("www-authenticate") ?? "";
      await response.body?.cancel();
      this.authorization = await this.authenticate(challenge);
      response = await this.send(url, headers, what);
    }
    if (!response.ok) {
      const detail = await errorDetail(response);
      await response.body?.cancel().catch(() => {});
      const hint = response.status === 401 || response.status === 403
        ? this.options.credentials ? " (the credentials were refused)" : ` (log in with: diyc login ${this.registry})`
        : "";
      throw new ImageError(`${this.where()}: ${what}: ${response.status} ${response.statusText}${detail}${hint}`);
    }
    return response;
  }

  private async send(url: string, headers: Record<string, string>, what: string): Promise<Response> {
    this.options.trace?.(`HOST| GET ${url}`);
    try {
      return await fetch(url, {
        headers: { ...headers, ...(this.authorization ? { Authorization: this.authorization } : {}) },
        redirect: "follow",
        ...(this.tls ? { tls: this.tls } : {}),
      } as RequestInit);
    } catch (error) {
      const insecureHint = this.options.settings.insecure ? "" : `; for a plain-HTTP registry use --insecure-registry ${this.registry}`;
      throw new ImageError(`${this.where()}: ${what}: cannot reach ${url}: ${(error as Error).message}${insecureHint}`);
    }
  }

  /** Answers a 401's challenge: the Authorization header to retry with. */
  private async authenticate(challenge: string): Promise<string> {
    const { scheme, params } = parseChallenge(challenge);
    const creds = this.options.credentials;
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}` : undefined;
    if (scheme === "basic") {
      if (!basic) throw new ImageError(`${this.where()}: the registry wants a login: diyc login ${this.registry}`);
      return basic;
    }
    if (scheme !== "bearer" || !params.realm) {
      throw new ImageError(`${this.where()}: unsupported authentication challenge ${JSON.stringify(challenge)}`);
    }
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set("service", params.service);
    tokenUrl.searchParams.set("scope", params.scope ?? `repository:${this.repository}:pull`);
    this.options.trace?.(`HOST| GET ${tokenUrl} (a bearer token)`);
    let response: Response;
    try {
      response = await fetch(tokenUrl, { headers: basic ? { Authorization: basic } : {}, ...(this.tls ? { tls: this.tls } : {}) } as RequestInit);
    } catch (error) {
      throw new ImageError(`${this.where()}: token server ${tokenUrl.origin}: ${(error as Error).message}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ImageError(`${this.where()}: token server ${tokenUrl.origin}: ${response.status} ${response.statusText}${basic ? " (the credentials were refused)" : ""}`);
    }
    const body = JSON.parse(new TextDecoder().decode(await readBounded(response, 1 << 20, "token"))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || token === "") throw new ImageError(`${this.where()}: the token server gave no token`);
    return `Bearer ${token}`;
  }
}

/** `Bearer realm="x",service="y",scope="z"` -> scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const pattern = /([a-zA-Z_]+)="([^"]*)"|([a-zA-Z_]+)=([^,\s]*)/g;
  for (const match of (space < 0 ? "" : header.slice(space + 1)).matchAll(pattern)) {
    params[(match[1] ?? match[3])!.toLowerCase()] = match[2] ?? match[4] ?? "";
  }
  return { scheme, params };
}

async function errorDetail(response: Response): Promise<string> {
  try {
    const text = new TextDecoder().decode(await readBounded(response, 64 << 10, "error"));
    const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
    const first = errors?.[0];
    return first ? ` (${first.code ?? ""}${first.message ? `: ${first.message}` : ""})` : "";
  } catch {
    return "";
  }
}

/** Reads a response body whole, refusing more than `limit` bytes. */
export async function readBounded(response: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > limit) throw new ImageError(`${what}: ${declared} bytes is more than the ${limit} a document may have`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (!response.body) return new Uint8Array(0);
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > limit) throw new ImageError(`${what}: more than the ${limit} bytes a document may have`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
