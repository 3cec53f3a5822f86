// Seccomp programs compiled at build time (build-time.ts, a Bun macro), used
// when a container's profile is exactly the one they were compiled from.
//
// What validates it: the key is the whole profile as JSON, compared as a
// string with the profile being loaded, and the architecture. The profile is
// the compiler's only input besides the architecture, so any difference (a
// --cap-add, a profile file, a diyc whose default profile changed: the
// constant is rebuilt with the binary) compiles as before. The build-time
// output is checked against the run-time compiler by
// test/unit/seccomp-precompiled.test.ts.

import type { LinuxSeccomp } from "../spec/oci";
import { compileSeccompWithFlags, type CompiledSeccomp } from "./bpf";
import { defaultProgram } from "./build-time" with { type: "macro" };

/** Exported for its test, which checks the bundle's copy against the compiler. */
export const PRECOMPILED = [defaultProgram()];

/** The profile's BPF program and seccomp(2) flags: precompiled when it is one of the above, else compiled now. */
export function seccompProgram(profile: LinuxSeccomp, arch: string): CompiledSeccomp {
  const key = JSON.stringify(profile);
  const found = PRECOMPILED.find((p) => p.arch === arch && p.profile === key);
  if (found) return { program: Buffer.from(found.program, "base64"), flags: found.flags };
  return compileSeccompWithFlags(profile, arch);
}
