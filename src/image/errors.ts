// The image module's error class. Every failure of an import, a listing or a
// removal reaches the user as one line, e.g.
//   image import evil.tar: entry "../../etc/x" escapes the image directory

import { DiycError } from "../linux/errors";

export class ImageError extends DiycError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, undefined, options);
    this.name = "ImageError";
  }
}

/** A tar entry that would write outside the image, or through a link. The import stops. */
export class UnsafeEntryError extends ImageError {
  constructor(entryPath: string, reason: string) {
    super(`entry ${JSON.stringify(entryPath)} ${reason}`);
    this.name = "UnsafeEntryError";
  }
}
