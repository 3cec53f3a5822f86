// The plan's wire format, read by native/plan.c (layout documented in native/plan.h).

import { CONTAINER_PREFIX } from "../linux/trace";
import { DiycError } from "../linux/errors";
import { NATIVE_CONSTANTS, OPS, OpCode, type OpArg, type Plan } from "./ops";

/** The helper's limits (NATIVE_CONSTANTS, native/plan-ops.h). */
const MAX_ARGS = NATIVE_CONSTANTS.PLAN_MAX_ARGS;
const MAX_BYTES = NATIVE_CONSTANTS.PLAN_MAX_BYTES;

const MAGIC = "DIYCPLAN";
export const PLAN_VERSION = 1;

function argBytes(arg: OpArg, where: string): Uint8Array {
  if (typeof arg === "string") return Buffer.from(arg, "utf8");
  if (typeof arg === "number" && !Number.isSafeInteger(arg)) {
    throw new DiycError(`plan: ${where} is ${arg}, not an exact integer (pass a bigint beyond 2^53)`);
  }
  if (typeof arg === "number" || typeof arg === "bigint") {
    const out = Buffer.alloc(8);
    out.writeBigUInt64LE(BigInt.asUintN(64, BigInt(arg)));
    return out;
  }
  if (arg instanceof Uint8Array) return arg;
  // A list travels as one argument with NUL separators; C splits it (plan_list).
  return Buffer.from(arg.list.join("\0"), "utf8");
}

/**
 * @param withTrace include each op's description, printed by the init as it runs (-v).
 */
export function encodePlan(plan: Plan, withTrace: boolean): Uint8Array {
  const chunks: Uint8Array[] = [];
  const header = Buffer.alloc(16);
  header.write(MAGIC, 0, "latin1");
  header.writeUInt32LE(PLAN_VERSION, 8);
  header.writeUInt32LE(plan.ops.length, 12);
  chunks.push(header);
  for (const [index, op] of plan.ops.entries()) {
    // The whole plan is checked here and again by the helper before anything runs.
    const shape = OPS[op.code];
    const required = "required" in shape ? shape.required : shape.args.length;
    if (op.args.length > MAX_ARGS || op.args.length < required || op.args.length > shape.args.length) {
      throw new DiycError(`plan: op ${index} (${op.code}) has ${op.args.length} arguments; it takes ${required}-${shape.args.length}`);
    }
    const trace = withTrace && op.describe ? Buffer.from(CONTAINER_PREFIX + op.describe) : Buffer.alloc(0);
    const opHeader = Buffer.alloc(12);
    opHeader.writeUInt16LE(OpCode[op.code], 0);
    opHeader.writeUInt16LE(op.flags ?? 0, 2);
    opHeader.writeUInt16LE(op.args.length, 4);
    opHeader.writeUInt32LE(trace.length, 8);
    chunks.push(opHeader, trace);
    for (const [k, arg] of op.args.entries()) {
      const bytes = argBytes(arg, `op ${index} (${op.code}) argument ${shape.args[k]?.[0] ?? k}`);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(bytes.length);
      chunks.push(len, bytes, new Uint8Array(1)); // the NUL C relies on
    }
  }
  const encoded = Buffer.concat(chunks);
  if (encoded.length > MAX_BYTES) throw new DiycError(`plan: ${encoded.length} bytes; the helper takes at most ${MAX_BYTES}`);
  return encoded;
}

/** The plan as the helper receives it on its socket: u32 length, then the bytes. */
export function framePlan(encoded: Uint8Array): Uint8Array {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(encoded.length);
  return Buffer.concat([len, encoded]);
}
