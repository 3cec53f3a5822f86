// Entry point of bin/diyc-oci, the runc-compatible OCI runtime. The only
// file of it that reads process.argv; see src/cli/oci/main.ts.

import { main } from "./oci/main";

main({ argv: process.argv.slice(2), euid: process.geteuid?.() ?? 0 }).then((code) => process.exit(code));
