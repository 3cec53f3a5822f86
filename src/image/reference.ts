// Image references: [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], as docker
// reads them. The first component is a registry when it looks like a host
// (has a "." or a ":", or is "localhost"); otherwise the name is local-looking
// ("busybox", "debian") and, when pulled, comes from Docker Hub.
//
// Names in the store (refs.json) are the reference as written with the tag
// made explicit: "busybox" is stored as "busybox:latest",
// "127.0.0.1:5000/team/app" as "127.0.0.1:5000/team/app:latest". A name
// never contains "..", a NUL or a leading "/": it is only ever a JSON key.

import { UsageError } from "../linux/errors";
import { DIGEST_PATTERN } from "./oci-image";

export interface ImageReference {
  /** Host[:port] of the registry; undefined for a name without one. */
  registry?: string;
  /** "team/app", "library/busybox" (Docker Hub's official images, when pulled). */
  repository: string;
  tag?: string;
  digest?: string;
  /** The store's name: repository with registry, ":tag" (default latest) or "@digest". */
  name: string;
}

const COMPONENT = /^[a-zA-Z0-9]+(?:(?:[._]|__|-+)[a-zA-Z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:localhost|[a-zA-Z0-9.-]+\.[a-zA-Z0-9.-]+|[a-zA-Z0-9.-]+:\d{1,5}|\[[0-9a-fA-F:]+\](?::\d{1,5})?)(?::\d{1,5})?$/;

export const DOCKER_HUB = "docker.io";

export function parseReference(text: string): ImageReference {
  const invalid = (why: string) =>
    new UsageError(`invalid image reference ${JSON.stringify(text)}: ${why}`);
  if (text === "" || text.length > 512) throw invalid("it must be 1-512 characters");
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_PATTERN.test(digest)) throw invalid("the digest must be sha256:<64 hex digits>");
  }
  let registry: string | undefined;
  const slash = rest.indexOf("/");
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      if (!HOST.test(first)) throw invalid(`${JSON.stringify(first)} is not a registry host[:port]`);
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid("a tag is 1-128 characters [A-Za-z0-9_.-], not starting with . or -");
  }
  const components = rest.split("/");
  if (rest === "" || !components.every((c) => COMPONENT.test(c))) {
    throw invalid("the repository is /-separated components of [a-z0-9] joined by . _ __ or -");
  }
  const base = registry === undefined ? rest : `${registry}/${rest}`;
  const name = digest !== undefined && tag === undefined ? `${base}@${digest}` : `${base}:${tag ?? "latest"}`;
  return { registry, repository: rest, tag, digest, name };
}

/** Where a reference is pulled from: its registry, or Docker Hub (with library/ for one-word names). */
export function pullSource(ref: ImageReference): { registry: string; repository: string; reference: string } {
  const registry = ref.registry ?? DOCKER_HUB;
  const repository = ref.registry === undefined && !ref.repository.includes("/") ? `library/${ref.repository}` : ref.repository;
  return { registry, repository, reference: ref.digest ?? ref.tag ?? "latest" };
}
