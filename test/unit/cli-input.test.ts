// Validation of what users type: names, users, environment, paths, argv.

import { describe, expect, test } from "bun:test";
import { parseArgs } from "../../src/cli/args";
import { parseUser } from "../../src/cli/run";
import { UsageError } from "../../src/linux/errors";
import { containerEnv, hostnameFromName, validateCwd, validateEnvEntry, validateHostname } from "../../src/spec/container-spec";
import { validateName } from "../../src/spec/names";
import { parseTmpfs, parseVolume } from "../../src/spec/volumes";
import { exitCodeOf } from "../../src/linux/wait-status";

describe("names", () => {
  test.each(["a", "web-1", "my.app_2", "A".repeat(64), "0abc"])("accepts %p", (name) => {
    expect(validateName("container", name)).toBe(name);
  });
  test.each(["", ".", "..", "-x", "_x", "a/b", "a b", "A".repeat(65), "x\0y", "é"])("refuses %p with one line", (name) => {
    expect(() => validateName("container", name)).toThrow(UsageError);
    expect(() => validateName("image", name)).toThrow(/invalid image name/);
  });
});

describe("users, env, cwd, hostname", () => {
  test("users are numeric UID or UID:GID", () => {
    expect(parseUser("1000")).toEqual({ uid: 1000, gid: 1000 });
    expect(parseUser("1000:50")).toEqual({ uid: 1000, gid: 50 });
    for (const bad of ["", "root", "-1", "1:", ":1", "99999999999"]) expect(() => parseUser(bad)).toThrow(UsageError);
  });
  test("-e needs KEY=VALUE, later keys win, defaults come first", () => {
    expect(() => validateEnvEntry("NOEQUALS")).toThrow(UsageError);
    expect(() => validateEnvEntry("=x")).toThrow(UsageError);
    const env = containerEnv({ env: ["A=1", "HOME=/home/x", "A=2"], terminal: false }, "h");
    expect(env).toEqual(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=h", "HOME=/home/x", "A=2"]);
  });
  test("working directories are absolute; hostnames are DNS-like", () => {
    expect(() => validateCwd("tmp")).toThrow(UsageError);
    expect(validateCwd("/srv/app")).toBe("/srv/app");
    expect(() => validateHostname("bad host")).toThrow(UsageError);
    expect(() => validateHostname("x".repeat(64))).toThrow(UsageError);
  });
});

describe("argv", () => {
  const specs = [{ long: "verbose", short: "v" }, { long: "env", short: "e", value: true }, { long: "rm" }];
  test("stops at the first positional, so the command keeps its own flags", () => {
    const parsed = parseArgs(["-v", "--rm", "-e", "A=1", "--env=B=2", "-eC=3", "web", "img", "ls", "-v"], specs, true);
    expect(parsed.positionals).toEqual(["web", "img", "ls", "-v"]);
    expect(parsed.options.get("env")).toEqual(["A=1", "B=2", "C=3"]);
  });
  test("unknown options and missing values are one-line errors", () => {
    expect(() => parseArgs(["--nope"], specs, true)).toThrow("unknown option --nope");
    expect(() => parseArgs(["-e"], specs, true)).toThrow("option -e needs a value");
    expect(() => parseArgs(["--rm=1"], specs, true)).toThrow("takes no value");
  });
});

describe("exit codes", () => {
  test("wait statuses become shell-style codes", () => {
    expect(exitCodeOf(7 << 8)).toBe(7);
    expect(exitCodeOf(9)).toBe(137);
    expect(exitCodeOf(15)).toBe(143);
  });
});

describe("-i: the seed's --ip or docker's --interactive", () => {
  const { disambiguateDashI } = require("../../src/cli/run") as typeof import("../../src/cli/run");
  test("-i before an IPv4 address is --ip; otherwise --interactive, also in bundles", () => {
    expect(disambiguateDashI(["-i", "172.16.0.30", "web", "img"])).toEqual(["--ip", "172.16.0.30", "web", "img"]);
    expect(disambiguateDashI(["-i", "web", "img"])).toEqual(["--interactive", "web", "img"]);
    expect(disambiguateDashI(["-it", "web", "img", "sh"])).toEqual(["-t", "--interactive", "web", "img", "sh"]);
  });
  test("the command's own arguments are left alone", () => {
    expect(disambiguateDashI(["web", "img", "cat", "-", "-i"])).toEqual(["web", "img", "cat", "-", "-i"]);
  });
});

describe("hostnames from names", () => {
  test("a valid container name always gives a valid hostname (sanitised, cut to 63)", () => {
    expect(hostnameFromName("web")).toBe("web");
    expect(hostnameFromName("my_c")).toBe("my-c");
    expect(hostnameFromName("0abc")).toBe("0abc");
    expect(hostnameFromName("A".repeat(64))).toBe("A".repeat(63));
    expect(hostnameFromName("a".repeat(62) + "_b")).toBe("a".repeat(62));
    for (const name of ["my_c", "x".repeat(64), "a.b_c", "9_"]) expect(() => validateHostname(hostnameFromName(name))).not.toThrow();
  });
});

describe("volume and tmpfs targets are cleaned as docker cleans them", () => {
  test("trailing and doubled slashes and . are gone; .., / and the kernel's filesystems are refused", () => {
    expect(parseVolume("/tmp:/etc/hosts/").destination).toBe("/etc/hosts");
    expect(parseVolume("/tmp:/etc//./hosts:ro").destination).toBe("/etc/hosts");
    expect(parseTmpfs("/run//:size=1m").destination).toBe("/run");
    for (const target of ["//", "/.", "/a/../etc", "/dev//", "/./proc/1", "relative"]) {
      expect(() => parseVolume(`/tmp:${target}`)).toThrow(UsageError);
    }
  });
});
