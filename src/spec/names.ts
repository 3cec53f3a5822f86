// Names of containers and images. The same rule docker uses for container
// names: it keeps names usable as directory names, hostnames and nft/link
// name fragments, and rules out "." and ".." and anything with a slash.

import { UsageError } from "../linux/errors";

export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** Throws a one-line UsageError unless `name` is a valid container or image name. */
export function validateName(kind: "container" | "image", name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(
      `invalid ${kind} name ${JSON.stringify(name)}: use 1-64 characters [a-zA-Z0-9_.-], starting with a letter or digit`,
    );
  }
  return name;
}
