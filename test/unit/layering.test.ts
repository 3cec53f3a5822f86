// The floors of the code (README, "How it works"), checked on every import:
//   cli → runtime → (plan, cgroups, network, image) → (spec, seccomp, store, linux)
// A module may import its own floor or a lower one, never a higher one, and
// the import graph has no cycles: a cycle points at a type in the wrong place.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

const FLOOR: Record<string, number> = {
  cli: 4,
  runtime: 3,
  plan: 2, cgroups: 2, network: 2, image: 2,
  spec: 1, seccomp: 1, store: 1, linux: 1,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** Relative imports of a file, resolved to files under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/g)) {
    const target = resolve(dirname(file), match[1]!);
    const candidates = [`${target}.ts`, join(target, "index.ts"), target];
    const hit = candidates.find((c) => c.startsWith(SRC) && c.endsWith(".ts") && statSync(c, { throwIfNoEntry: false })?.isFile());
    if (hit) found.push(hit);
  }
  return found;
}

const floorOf = (file: string) => FLOOR[relative(SRC, file).split("/")[0]!];
const files = sources(SRC).filter((f) => floorOf(f) !== undefined);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => floorOf(t) !== undefined)]));

describe("layering", () => {
  test("every directory of src/ has a floor", () => {
    const dirs = readdirSync(SRC).filter((d) => statSync(join(SRC, d)).isDirectory());
    expect(dirs.filter((d) => FLOOR[d] === undefined)).toEqual([]);
  });

  test("no module imports from a higher floor", () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (floorOf(target)! > floorOf(file)!) upward.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  test("the import graph has no cycles", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
        return;
      }
      state.set(file, "visiting");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
