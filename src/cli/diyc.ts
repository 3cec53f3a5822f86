// Entry point of bin/diyc. The only file that reads process.argv and
// process.env; everything else receives them.

import { trackEnvironment } from "./env-reads";
import { main } from "./main";

// Compiled (build/diyc, `bun build --compile`), the binary is the whole
// program; from source, Bun needs the script's path too. The monitor's
// cleanup hook runs diyc again with exactly this.
const compiled = Bun.main.startsWith("/$bunfs/");

// The front's request to record this run (cli/prepared.ts) is for this process only.
const environment = trackEnvironment({ ...process.env });
delete process.env.DIYC_PREPARE;

main({
  argv: process.argv.slice(2),
  env: environment.env,
  environment,
  diycCommand: compiled ? [process.execPath] : [process.execPath, import.meta.path],
  euid: process.geteuid?.() ?? 0,
  egid: process.getegid?.() ?? 0,
}).then((code) => process.exit(code));
