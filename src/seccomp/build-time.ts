// Runs at build time, as a Bun macro (`import ... with { type: "macro" }` in
// precompiled.ts): `bun build` (npm run build) calls it and writes its result
// into the bundle as a constant, so the default profile's BPF is compiled once
// per build instead of once per container (4-5 ms of every `diyc run`, cold
// JavaScript on the start path). Running from source, or under `bun test`,
// Bun's transpiler calls it the same way when it loads precompiled.ts.

import { DEFAULT_CAPABILITIES } from "../spec/defaults";
import { compileSeccompWithFlags } from "./bpf";
import { defaultSeccompProfile } from "./profile";

/** What precompiled.ts needs to recognise the profile and load its program. */
export interface PrecompiledProgram {
  /** The profile, as JSON.stringify writes it: the key the program is valid for. */
  profile: string;
  arch: string;
  /** struct sock_filter[], base64 (a macro returns JSON-like values only). */
  program: string;
  flags: number;
}

/** The default profile of a container with the default capabilities: `diyc run` without --cap-add, --cap-drop or --privileged. */
export function defaultProgram(): PrecompiledProgram {
  const profile = defaultSeccompProfile(DEFAULT_CAPABILITIES);
  const arch = "x64"; // the only architecture with a syscall table (syscalls-x86_64.ts)
  const compiled = compileSeccompWithFlags(profile, arch);
  return { profile: JSON.stringify(profile), arch, program: Buffer.from(compiled.program).toString("base64"), flags: compiled.flags };
}
