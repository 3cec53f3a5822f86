// Entry point of bin/diyc. The only file that reads process.argv and
// process.env; everything else receives them.

import { main } from "./main";

const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  diycCommand: [process.execPath, import.meta.path],
});
process.exit(code);
