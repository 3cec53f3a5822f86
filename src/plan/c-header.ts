// Writes native/plan-ops.h from the op table (src/plan/ops.ts): the numbers
// diyc and the helper share (NATIVE_CONSTANTS), the opcodes,
// the op flags, and each op's shape (name, setting or step, argument counts
// and kinds), which the helper checks every op of a plan against before the
// first one runs. Run with `npm run gen:ops`; a unit test fails when the
// checked-in header is not what this writes.

import { NATIVE_CONSTANTS, OPS, OpFlag, type ArgKind } from "./ops";

const snake = (name: string) => name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
const kebab = (name: string) => name.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase();
const KIND: Record<ArgKind, string> = { str: "s", u64: "u", bytes: "b", list: "l" };

export function renderOpHeader(): string {
  const byCode = Object.entries(OPS).sort(([, a], [, b]) => a.code - b.code);
  const lines: string[] = [
    "/*",
    " * Generated from src/plan/ops.ts by src/plan/c-header.ts (npm run gen:ops):",
    " * do not edit. The op table is the one source of truth for the plan's",
    " * vocabulary; native/plan.c validates plans against OP_SHAPES.",
    " */",
    "#ifndef DIYC_PLAN_OPS_H",
    "#define DIYC_PLAN_OPS_H",
    "",
    "#include <stdint.h>",
    "",
    ...Object.entries(NATIVE_CONSTANTS).map(([name, value]) => `#define ${name} ${value}u`),
    "",
    "enum op_code {",
  ];
  for (const [name, def] of byCode) {
    const args = def.args.map(([arg, kind]) => `${kind === "str" ? "" : `${kind} `}${arg}`).join(", ");
    const role = "setting" in def ? "setting" : "step";
    lines.push(`\tOP_${snake(name)} = ${def.code}, /* ${role} (${args}): ${def.doc.replaceAll("*/", "* /")} */`);
  }
  lines.push("};", "", "enum op_flag {");
  for (const [name, value] of Object.entries(OpFlag)) lines.push(`\tOPF_${snake(name)} = ${value},`);
  lines.push(
    "};",
    "",
    "/* An op's shape: setting 0 (a step), 1 (once), 2 (may repeat); kinds: one letter an argument, s string, u u64, b bytes, l list. */",
    "struct op_shape {",
    "\tuint16_t code;",
    "\tconst char *name;",
    "\tuint8_t setting;",
    "\tuint8_t min_args;",
    "\tuint8_t max_args;",
    "\tconst char *kinds;",
    "};",
    "",
    "static const struct op_shape OP_SHAPES[] = {",
  );
  for (const [name, def] of byCode) {
    const setting = !("setting" in def) ? 0 : def.setting === "repeat" ? 2 : 1;
    const required = "required" in def ? def.required : def.args.length;
    const kinds = def.args.map(([, kind]) => KIND[kind]).join("");
    lines.push(`\t{ OP_${snake(name)}, "${kebab(name)}", ${setting}, ${required}, ${def.args.length}, "${kinds}" },`);
  }
  lines.push("};", "", "/* Each argument's position, by name: plan_str(op, ARG_MOUNT_TARGET), not plan_str(op, 1). */");
  for (const [name, def] of byCode) {
    def.args.forEach(([arg], index) => lines.push(`#define ARG_${snake(name)}_${arg.toUpperCase()} ${index}`));
  }
  lines.push("", "#endif", "");
  return lines.join("\n");
}

if (import.meta.main) process.stdout.write(renderOpHeader());
