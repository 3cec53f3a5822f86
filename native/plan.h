/*
 * The plan: what the TypeScript side decided, as a list of operations.
 *
 * The helper holds no policy. Every path, flag, capability mask and the order
 * of the steps was worked out in src/plan/compile.ts; this file only says how
 * the bytes are laid out, and native/ops.c carries each operation out.
 *
 * Wire format (little-endian), produced by src/plan/encode.ts:
 *
 *   "DIYCPLAN"  u32 version  u32 op_count
 *   op_count times:
 *     u16 code  u16 flags  u16 argc  u16 reserved
 *     u32 trace_len  trace bytes           (the -v line; empty when not verbose)
 *     argc times: u32 len  bytes  NUL      (len excludes the NUL we add for C)
 *
 * Numbers travel as 8-byte arguments; lists of strings as one argument with
 * NUL separators. The settings come first (the helper reads them as a
 * header), then the steps the init runs in order. plan_decode checks every
 * op against its shape (plan-ops.h, generated from src/plan/ops.ts) before
 * anything runs: a known opcode, its argument count and kinds, and no
 * setting given twice or after a step.
 */
#ifndef DIYC_PLAN_H
#define DIYC_PLAN_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define PLAN_MAGIC "DIYCPLAN"
#define PLAN_VERSION 1

/* The opcodes, op flags, each op's shape and the numbers diyc and the helper share
 * (PLAN_MAX_ARGS, PLAN_MAX_BYTES, HELPER_PRESERVED_FD, EXIT_RECORD_BYTES) come from the
 * op table (src/plan/ops.ts). */
#include "plan-ops.h"

struct plan_arg {
	uint32_t len;
	const char *data; /* NUL-terminated */
};

struct plan_op {
	uint16_t code;
	uint16_t flags;
	uint16_t argc;
	uint32_t trace_len;
	const char *trace;
	struct plan_arg args[PLAN_MAX_ARGS];
};

struct plan {
	uint32_t count;
	struct plan_op *ops;
	char *buffer; /* owns every string the ops point into */
};

/* Decodes `len` bytes owned by the caller (kept alive as plan->buffer). 0 or -errno. */
int plan_decode(char *bytes, size_t len, struct plan *out);

/* Accessors that check the argument's shape; they return -1/NULL if it is wrong. */
const char *plan_str(const struct plan_op *op, unsigned i);
int plan_u64(const struct plan_op *op, unsigned i, uint64_t *out);

/* Splits a NUL-separated list argument into a NULL-terminated vector (malloc'd). */
char **plan_list(const struct plan_op *op, unsigned i);

/* The first op with this code, or NULL: how the helper finds its settings. */
const struct plan_op *plan_find(const struct plan *plan, uint16_t code);

/* Reads a plan from fd and prints it, one op a line. 0, or 1 if it is not a plan. */
int plan_print(int fd, FILE *out);

/* The name of an opcode, for --print-plan. */
const char *plan_op_name(uint16_t code);

/* The shape of an opcode (plan-ops.h), or NULL for an unknown one. */
const struct op_shape *plan_op_shape(uint16_t code);

#endif
