// `diyc run -it` with a shell, driven through a real pty as a user at a
// terminal would (test/fixtures/pty-session.py): job control, Ctrl-C
// reaching the container's foreground job, window resizes, exit status.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DIYC, isRoot, removeStore, tempStore } from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;
const SESSION = join(import.meta.dir, "../fixtures/pty-session.py");

let root: string;
beforeAll(() => {
  root = tempStore("diyc-tty-");
});
afterAll(() => removeStore(root));

describeRoot("an interactive shell with -it", () => {
  test("Ctrl-C interrupts the container's job, not diyc; job control; resize; exit status", () => {
    const steps = [
      // A real user is slower than this script: let the shell start sleep (and turn
      // its terminal back to cooked mode, where ^C means SIGINT) before typing ^C.
      "wait:# ", "send:sleep 100\\n", "wait:sleep 100", "pause:0.5", "send:\\x03", "wait:# ",
      "send:echo code=$?\\n", "wait:code=",
      "send:sleep 50 &\\n", "send:jobs\\n", "wait:Running",
      "resize:20:90", "send:stty size\\n", "wait:20 90",
      "send:tty\\n", "wait:/dev/pts/",
      "send:exit 4\\n",
    ];
    const child = Bun.spawnSync(["python3", SESSION, "30", "100", ...steps, "--", DIYC, "--root", root, "run", "--rm", "-it", "shell", "busybox", "sh"]);
    const out = child.stdout.toString();
    expect(out).toContain("^C");
    expect(out).toContain("code=130"); // the shell's job died of SIGINT; the shell and diyc went on
    expect(out).toMatch(/\[1\]\+\s+Running\s+sleep 50/);
    expect(out).toContain("\n20 90\n");
    expect(out).toContain("\n/dev/pts/0\n");
    expect(out).toEndWith("\nEXIT=4\n");
  }, 60_000);

  test("closing the terminal hangs up the container's: its job and shell end, diyc returns, --rm removes it", () => {
    // A job in the foreground, not the shell, is what must get the hangup (SIGHUP).
    const child = Bun.spawnSync(["python3", SESSION, "30", "100", "wait:# ", "send:sleep 100\\n", "wait:sleep 100", "pause:0.5", "hangup",
      "--", DIYC, "--root", root, "run", "--rm", "-it", "hangup", "busybox", "sh"]);
    const out = child.stdout.toString();
    expect(out).not.toContain("HUNG");
    expect(out).toMatch(/\nEXIT=\d+\n$/);
    expect(existsSync(join(root, "containers", "hangup"))).toBe(false);
  }, 60_000);
});
