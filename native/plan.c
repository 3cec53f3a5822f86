/*
 * Decoding the plan sent by src/plan/encode.ts. See plan.h for the layout.
 * Every length is checked against what is left of the buffer, so a short or
 * corrupt plan fails with EINVAL instead of reading out of bounds.
 */
#include "plan.h"

#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	char *pos;
	size_t left;
};

static int take(struct reader *r, size_t n, char **out)
{
	if (n > r->left)
		return -EINVAL;
	*out = r->pos;
	r->pos += n;
	r->left -= n;
	return 0;
}

static int take_u16(struct reader *r, uint16_t *out)
{
	char *p;
	if (take(r, 2, &p) < 0)
		return -EINVAL;
	memcpy(out, p, 2);
	return 0;
}

static int take_u32(struct reader *r, uint32_t *out)
{
	char *p;
	if (take(r, 4, &p) < 0)
		return -EINVAL;
	memcpy(out, p, 4);
	return 0;
}

static int decode_op(struct reader *r, struct plan_op *op)
{
	uint16_t reserved;
	char *bytes;

	if (take_u16(r, &op->code) < 0 || take_u16(r, &op->flags) < 0 ||
	    take_u16(r, &op->argc) < 0 || take_u16(r, &reserved) < 0)
		return -EINVAL;
	if (op->argc > PLAN_MAX_ARGS)
		return -EINVAL;
	if (take_u32(r, &op->trace_len) < 0 || take(r, op->trace_len, &bytes) < 0)
		return -EINVAL;
	op->trace = bytes;
	for (unsigned i = 0; i < op->argc; i++) {
		struct plan_arg *arg = &op->args[i];
		/* Each argument is followed by a NUL the encoder adds, so C can use it as a string. */
		if (take_u32(r, &arg->len) < 0 || take(r, (size_t)arg->len + 1, &bytes) < 0)
			return -EINVAL;
		if (bytes[arg->len] != '\0')
			return -EINVAL;
		arg->data = bytes;
	}
	return 0;
}

static int validate_op(const struct plan_op *op);
static int validate_order(const struct plan *plan);

int plan_decode(char *bytes, size_t len, struct plan *out)
{
	struct reader r = { bytes, len };
	char *magic;
	uint32_t version;

	memset(out, 0, sizeof(*out));
	if (take(&r, 8, &magic) < 0 || memcmp(magic, PLAN_MAGIC, 8) != 0)
		return -EINVAL;
	if (take_u32(&r, &version) < 0 || version != PLAN_VERSION)
		return -EPROTO;
	if (take_u32(&r, &out->count) < 0 || out->count > 100000)
		return -EINVAL;
	out->ops = calloc(out->count ? out->count : 1, sizeof(struct plan_op));
	if (!out->ops)
		return -ENOMEM;
	for (uint32_t i = 0; i < out->count; i++) {
		if (decode_op(&r, &out->ops[i]) < 0 || validate_op(&out->ops[i]) < 0) {
			free(out->ops);
			out->ops = NULL;
			return -EINVAL;
		}
	}
	if (r.left != 0 || validate_order(out) < 0) {
		free(out->ops);
		out->ops = NULL;
		return -EINVAL;
	}
	out->buffer = bytes;
	return 0;
}

const struct plan_op *plan_find(const struct plan *plan, uint16_t code)
{
	for (uint32_t i = 0; i < plan->count; i++)
		if (plan->ops[i].code == code)
			return &plan->ops[i];
	return NULL;
}

const char *plan_str(const struct plan_op *op, unsigned i)
{
	if (i >= op->argc)
		return NULL;
	return op->args[i].data;
}

int plan_u64(const struct plan_op *op, unsigned i, uint64_t *out)
{
	if (i >= op->argc || op->args[i].len != 8)
		return -1;
	memcpy(out, op->args[i].data, 8);
	return 0;
}

char **plan_list(const struct plan_op *op, unsigned i)
{
	const struct plan_arg *arg;
	size_t count = 0;
	char **vec;

	if (i >= op->argc)
		return NULL;
	arg = &op->args[i];
	/* "a\0b\0c" holds three strings; an empty argument holds none. */
	if (arg->len > 0) {
		count = 1;
		for (uint32_t k = 0; k < arg->len; k++)
			if (arg->data[k] == '\0')
				count++;
	}
	vec = calloc(count + 1, sizeof(char *));
	if (!vec)
		return NULL;
	if (count > 0) {
		const char *p = arg->data;
		for (size_t n = 0; n < count; n++) {
			vec[n] = (char *)p;
			p += strlen(p) + 1;
		}
	}
	return vec;
}

const struct op_shape *plan_op_shape(uint16_t code)
{
	for (size_t i = 0; i < sizeof(OP_SHAPES) / sizeof(OP_SHAPES[0]); i++)
		if (OP_SHAPES[i].code == code)
			return &OP_SHAPES[i];
	return NULL;
}

const char *plan_op_name(uint16_t code)
{
	const struct op_shape *shape = plan_op_shape(code);
	return shape ? shape->name : "unknown";
}

/*
 * One op against its shape: a known code, an argument count within bounds,
 * and 8 bytes for every u64. Lists, strings and bytes may be any length.
 */
static int validate_op(const struct plan_op *op)
{
	const struct op_shape *shape = plan_op_shape(op->code);
	if (!shape || op->argc < shape->min_args || op->argc > shape->max_args)
		return -1;
	for (unsigned i = 0; i < op->argc; i++)
		if (shape->kinds[i] == 'u' && op->args[i].len != 8)
			return -1;
	return 0;
}

/* Settings first, each once unless it may repeat: a header the helper reads before it clones. */
static int validate_order(const struct plan *plan)
{
	int steps_started = 0;
	for (uint32_t i = 0; i < plan->count; i++) {
		const struct op_shape *shape = plan_op_shape(plan->ops[i].code);
		if (!shape->setting) {
			steps_started = 1;
			continue;
		}
		if (steps_started)
			return -1;
		if (shape->setting == 1)
			for (uint32_t k = 0; k < i; k++)
				if (plan->ops[k].code == plan->ops[i].code)
					return -1;
	}
	return 0;
}

/* --print-plan: the decoded plan, one op a line, for tests and for the curious. */
int plan_print(int fd, FILE *out)
{
	static char bytes[PLAN_MAX_BYTES];
	size_t len = 0;
	ssize_t n;
	struct plan plan;

	while ((n = read(fd, bytes + len, sizeof(bytes) - len)) > 0)
		len += (size_t)n;
	if (plan_decode(bytes, len, &plan) < 0) {
		fprintf(stderr, "diyc-helper: not a valid plan\n");
		return 1;
	}
	for (uint32_t i = 0; i < plan.count; i++) {
		const struct plan_op *op = &plan.ops[i];
		fprintf(out, "%u %s flags=%u", i, plan_op_name(op->code), op->flags);
		for (unsigned k = 0; k < op->argc; k++) {
			uint64_t number;
			if (plan_u64(op, k, &number) == 0)
				fprintf(out, " #%llu", (unsigned long long)number);
			else
				fprintf(out, " [%u]%s", op->args[k].len, op->args[k].data);
		}
		fprintf(out, "\n");
	}
	return 0;
}
