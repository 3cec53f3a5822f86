// The default profile's BPF is compiled at build time (src/seccomp/build-time.ts,
// a Bun macro that `bun build` runs): what the build writes into the bundle must
// be what the compiler makes at run time, and the profile of a default
// `diyc run` must be the one it was compiled for, or the constant is never used.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compileSeccompWithFlags } from "../../src/seccomp/bpf";
import { defaultSeccompProfile } from "../../src/seccomp/profile";
import { seccompProgram } from "../../src/seccomp/precompiled";
import { buildContainerSpec, type ContainerOptions } from "../../src/spec/container-spec";
import type { LinuxSeccomp } from "../../src/spec/oci";

const SOURCE = resolve(import.meta.dir, "../../src/seccomp/precompiled.ts");
const etcFiles = { hostname: "/x/hostname", hosts: "/x/hosts", resolvConf: "/x/resolv.conf" };
const defaultRunProfile = (overrides: Partial<ContainerOptions> = {}) =>
  buildContainerSpec({ name: "web", args: ["sh"], env: [], terminal: false, network: "host", etcFiles, ...overrides }).linux.seccomp!;

describe("the precompiled seccomp program", () => {
  test("bun build writes the run-time compiler's output for the default profile", async () => {
    // Built the way npm run build builds diyc (bun build runs the macro), then loaded.
    const dir = mkdtempSync(join(tmpdir(), "diyc-seccomp-build-"));
    try {
      const out = join(dir, "precompiled.js");
      const built = Bun.spawnSync(["bun", "build", SOURCE, "--target=bun", "--outfile", out], { stderr: "pipe" });
      expect(built.stderr.toString()).not.toContain("error");
      expect(built.success).toBe(true);
      const bundle = await import(out) as typeof import("../../src/seccomp/precompiled");
      expect(bundle.PRECOMPILED.length).toBeGreaterThan(0);
      // A constant in the bundle, not a call made when it loads.
      expect(readFileSync(out, "utf8")).toContain(bundle.PRECOMPILED[0]!.program);
      for (const entry of bundle.PRECOMPILED) {
        const profile = JSON.parse(entry.profile) as LinuxSeccomp;
        const compiled = compileSeccompWithFlags(profile, entry.arch);
        expect(Buffer.from(entry.program, "base64")).toEqual(Buffer.from(compiled.program));
        expect(entry.flags).toBe(compiled.flags);
      }
      // The key is the profile a default `diyc run` gets.
      expect(bundle.PRECOMPILED[0]!.profile).toBe(JSON.stringify(defaultRunProfile()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a default container's profile is found, also after a JSON round trip (a stored config)", () => {
    const profile = defaultRunProfile();
    const expected = compileSeccompWithFlags(profile, "x64");
    for (const p of [profile, JSON.parse(JSON.stringify(profile)) as LinuxSeccomp]) {
      expect(Buffer.from(seccompProgram(p, "x64").program)).toEqual(Buffer.from(expected.program));
    }
  });

  test("any other profile is compiled as before", () => {
    for (const profile of [
      defaultRunProfile({ capAdd: ["SYS_ADMIN"] }),
      defaultSeccompProfile([]),
      { ...defaultRunProfile(), flags: ["SECCOMP_FILTER_FLAG_LOG"] },
    ]) {
      const expected = compileSeccompWithFlags(profile, "x64");
      const got = seccompProgram(profile, "x64");
      expect(Buffer.from(got.program)).toEqual(Buffer.from(expected.program));
      expect(got.flags).toBe(expected.flags);
    }
    expect(() => seccompProgram(defaultRunProfile(), "arm64")).toThrow("no syscall table");
  });
});
