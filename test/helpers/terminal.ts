// A real terminal for escape tests: a pty the test owns (test/fixtures/pty-session.py).

import { join } from "node:path";

export const SESSION = join(import.meta.dir, "../fixtures/pty-session.py");

/**
 * Runs `command` in bash on a new pty (its controlling terminal), then has bash
 * read one line from that terminal: anything a container managed to push into
 * the terminal's input queue would be read there (and echoed) as the user's
 * shell would have run it.
 */
export function onTerminal(command: string): string {
  const script = `${command}; read -t 1 line; echo "READ[$line]"`;
  const child = Bun.spawnSync(["python3", SESSION, "24", "80", "--", "bash", "--norc", "--noprofile", "-c", script]);
  return child.stdout.toString();
}
