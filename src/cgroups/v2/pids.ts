// v2 pids controller: pids.max and pids.current are the same files, with the
// same format, as on v1, so the v1 module serves both (see ../v1/pids.ts).

import { pidsV1 } from "../v1/pids";
import type { V2Controller } from "./controller";

export const pidsV2: V2Controller = pidsV1;
