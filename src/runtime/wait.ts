// Waiting for something another process does (an exit, a clean-up), by
// polling: the facts live in /proc and in files, with nothing to block on.

/** Polls `done` every 10 ms for up to `ms`; true if it became true. */
export async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(10);
  }
  return true;
}
