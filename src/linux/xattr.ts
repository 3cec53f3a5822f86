// lsetxattr(2), for image layers: overlayfs marks an opaque directory with
// the xattr trusted.overlay.opaque=y, and layers carry file capabilities
// (security.capability) and other xattrs in their tar headers. Bun has no
// xattr API. The l- variant never follows a symlink: a layer's symlink gets
// the attribute itself (or EPERM for user.*), never its target.

import { check, cString, symbols } from "./libc";

export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  // A zero-length value still needs a valid pointer.
  const buffer = value.length === 0 ? new Uint8Array(1) : value;
  check("lsetxattr", symbols.lsetxattr(cString(path), cString(name), buffer, value.length, 0), path, name);
}
