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
 * NUL separators. The opcodes below must match src/plan/ops.ts; a unit test
 * (test/unit/plan-encoding.test.ts) parses this file and compares.
 */
#ifndef DIYC_PLAN_H
#define DIYC_PLAN_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define PLAN_MAGIC "DIYCPLAN"
#define PLAN_VERSION 1
#define PLAN_MAX_BYTES (16u << 20)

enum op_code {
	/* Read by the helper before it clones: how to make the child. */
	OP_CLONE = 1,          /* (u64 clone flags) */
	OP_EXIT_RECORD = 2,    /* (path, reserve) where the monitor writes the exit status; reserve: a file made for it in advance */
	OP_CLEANUP_HOOK = 3,   /* (argv...) run by the monitor if diyc is gone at exit */
	OP_JOIN_NAMESPACE = 4, /* (path, u64 nstype) setns before forking (exec) */
	OP_DETACH = 5,         /* () setsid: leave diyc's session, outlive it (run -d) */
	OP_LOG = 6,            /* (path, u64 max bytes, u64 tee) the init's stdout/stderr go through the monitor to this log (tee: and on to the monitor's own) */
	OP_RELAY_TERMINAL = 7, /* (u64 raw) the monitor relays its stdin/stdout to the pty; raw: put the user's terminal in raw mode */

	/* Run by the child, in order, inside the new namespaces. */
	OP_MOUNT = 10,         /* (source, target, fstype, u64 flags, data) */
	OP_MKDIR = 11,         /* (path, u64 mode) mkdir -p */
	OP_MKNOD = 12,         /* (path, u64 mode, u64 dev) */
	OP_SYMLINK = 13,       /* (target, linkpath) */
	OP_OPEN_ROOT = 14,     /* (path) the directory that becomes / */
	OP_PIVOT_ROOT = 15,    /* () pivot_root to the opened root, detach the old one */
	OP_SETHOSTNAME = 16,   /* (name) */
	OP_SETDOMAINNAME = 17, /* (name) */
	OP_MASK_PATH = 19,     /* (path) hide: /dev/null over a file, empty ro tmpfs over a dir */
	OP_READONLY_PATH = 20, /* (path, u64 flags to keep) bind onto itself, remount read-only */
	OP_SETRLIMIT = 21,     /* (u64 resource, u64 soft, u64 hard) */
	OP_SETGROUPS = 22,     /* (u32 gids packed) */
	OP_SETGID = 23,        /* (u64 gid) */
	OP_SETUID = 24,        /* (u64 uid) */
	OP_DROP_BOUNDING = 25, /* (u8 caps packed) drop each from the bounding set */
	OP_SET_CAPS = 26,      /* (u64 effective, u64 permitted, u64 inheritable) */
	OP_CLEAR_AMBIENT = 27, /* () */
	OP_NO_NEW_PRIVS = 28,  /* () */
	OP_SECCOMP = 29,       /* (sock_filter array, u64 seccomp(2) flags) */
	OP_CHDIR = 30,         /* (path) */
	OP_CLOEXEC_FDS = 31,   /* (u64 first fd) mark every fd >= first close-on-exec */
	OP_RESET_SIGNALS = 32, /* () default dispositions, empty mask */
	OP_AWAIT_START = 33,   /* () report READY, block until START: the OCI create/start split */
	OP_EXEC = 34,          /* (file, argv..., envp..., search dirs "a:b") */
	OP_KEEP_CAPS = 35,     /* (u64 on) PR_SET_KEEPCAPS across setuid */
	OP_SET_DUMPABLE = 36,  /* (u64 on) */
	OP_UNSHARE = 37,       /* (u64 clone flags) e.g. the cgroup namespace, once in its cgroup */
	OP_TERMINAL = 38,      /* () a pty from the container's /dev/ptmx as stdio; the master goes to the monitor */
	OP_FORK_REAPER = 39,   /* () --init: fork; the parent stays as pid 1, reaping and forwarding signals */
	OP_NEW_SESSION = 40,   /* () setsid: no controlling terminal (the user's terminal must not be reachable) */
	OP_MOUNT_SETATTR = 41, /* (path, u64 attr_set, u64 attr_clr, u64 recursive) mount_setattr(2), e.g. read-only for a whole tree */
	OP_WRITE_FILE = 42,    /* (path, data) write an existing file, e.g. a namespaced sysctl under /proc/sys */
	OP_PARENT_DEATH_SIGNAL = 43, /* (u64 signal) PR_SET_PDEATHSIG; also applied by the helper right after clone */

	/*
	 * The OCI front door (bin/diyc-oci): the caller (conmon, the containerd
	 * shim) is the monitor, so the helper must leave. See protocol.h.
	 */
	OP_START_FIFO = 50,     /* helper setting (path): the start barrier is this FIFO; the helper leaves after READY */
	OP_CONSOLE_SOCKET = 51, /* helper setting (path, u64 rows, u64 cols): the pty master goes to this unix socket */
	OP_LEAVE = 52,          /* helper setting (): leave once the command has started (exec --detach): no monitor */
	OP_FIND_EXEC = 53,      /* (file, search dirs "a:b") the executable exists: checked before the barrier */
	OP_UMASK = 54,          /* (u64 mask) */
	OP_RAISE_AMBIENT = 55,  /* (u8 caps packed) raise each in the ambient set */
	OP_PERSONALITY = 57,    /* (u64 persona) */
	OP_PRESERVE_FDS = 58,   /* helper setting (u64 count): keep fds 5..5+count-1 (OCI --preserve-fds) */
	OP_MOVE_FDS = 59,       /* (u64 from, u64 count) dup2 from..from+count-1 onto 3..3+count-1, just before exec */
	OP_HOOK_STATE = 60,     /* (path) open the state file that hooks run by the init read on stdin (before pivot_root) */
	OP_RUN_HOOK = 61,       /* (path, argv..., envp..., u64 timeout seconds, 0: none) fork, exec, wait: an OCI hook */
	OP_TIME_NAMESPACE = 62, /* helper setting (s64 monotonic s, ns, boottime s, ns): unshare a time namespace for the init */
	OP_IDMAP_MOUNT = 63,    /* helper setting (source, u64 recursive, u64 MOUNT_ATTR_* to set): a detached bind, idmapped to the init's user namespace */
	OP_ATTACH_MOUNT = 64,   /* (u64 index, target) move_mount the index-th detached mount the helper sent onto target */
};

/* Per-operation flags. */
enum op_flag {
	OPF_IN_ROOT = 1,       /* resolve the path inside the opened root (RESOLVE_IN_ROOT); an error if no root is open */
	OPF_OPTIONAL = 2,      /* a missing path (ENOENT) is not an error */
	OPF_MKDIR_TARGET = 4,  /* create the mount target as a directory first */
	OPF_MKFILE_TARGET = 8, /* create the mount target as an empty file first */
};

struct plan_arg {
	uint32_t len;
	const char *data; /* NUL-terminated */
};

#define PLAN_MAX_ARGS 8

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

#endif
