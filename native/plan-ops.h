/*
 * Generated from src/plan/ops.ts by src/plan/c-header.ts (npm run gen:ops):
 * do not edit. The op table is the one source of truth for the plan's
 * vocabulary; native/plan.c validates plans against OP_SHAPES.
 */
#ifndef DIYC_PLAN_OPS_H
#define DIYC_PLAN_OPS_H

#include <stdint.h>

#define PLAN_MAX_ARGS 8u
#define PLAN_MAX_BYTES 16777216u
#define HELPER_PRESERVED_FD 5u
#define EXIT_RECORD_BYTES 128u

enum op_code {
	OP_CLONE = 1, /* setting (u64 flags): clone flags for the init */
	OP_EXIT_RECORD = 2, /* setting (path, reserve): where the monitor writes the exit status; reserve: a file made for it in advance */
	OP_CLEANUP_HOOK = 3, /* setting (list argv): run by the monitor if diyc is gone at exit */
	OP_JOIN_NAMESPACE = 4, /* setting (path, u64 nstype): setns before forking (exec) */
	OP_DETACH = 5, /* setting (): setsid: leave diyc's session, outlive it (run -d) */
	OP_LOG = 6, /* setting (path, u64 max_bytes, u64 tee): the init's stdout/stderr go through the monitor to this log (tee: and on to the monitor's own) */
	OP_RELAY_TERMINAL = 7, /* setting (u64 raw): the monitor relays its stdin/stdout to the pty; raw: the user's terminal in raw mode */
	OP_MOUNT = 10, /* step (source, target, fstype, u64 flags, data): mount(2) */
	OP_MKDIR = 11, /* step (path, u64 mode): mkdir -p */
	OP_MKNOD = 12, /* step (path, u64 mode, u64 dev): mknod(2), the mode exactly */
	OP_SYMLINK = 13, /* step (target, linkpath): symlink(2) */
	OP_OPEN_ROOT = 14, /* step (path): the directory that becomes / (and in which in-root paths resolve) */
	OP_PIVOT_ROOT = 15, /* step (): pivot_root to the opened root, detach the old one */
	OP_SETHOSTNAME = 16, /* step (name): sethostname(2) */
	OP_SETDOMAINNAME = 17, /* step (name): setdomainname(2) */
	OP_MASK_PATH = 19, /* step (path): hide: /dev/null over a file, an empty read-only tmpfs over a directory */
	OP_READONLY_PATH = 20, /* step (path, u64 keep_flags): bind onto itself, remount read-only */
	OP_SETRLIMIT = 21, /* step (u64 resource, u64 soft, u64 hard): setrlimit(2) */
	OP_SETGROUPS = 22, /* step (bytes gids): setgroups(2), u32 gids packed */
	OP_SETGID = 23, /* step (u64 gid): setresgid(2) */
	OP_SETUID = 24, /* step (u64 uid): setresuid(2) */
	OP_DROP_BOUNDING = 25, /* step (bytes caps): drop each capability (u8 each) from the bounding set */
	OP_SET_CAPS = 26, /* step (u64 effective, u64 permitted, u64 inheritable): capset(2) */
	OP_CLEAR_AMBIENT = 27, /* step (): clear the ambient capabilities */
	OP_NO_NEW_PRIVS = 28, /* step (): PR_SET_NO_NEW_PRIVS */
	OP_SECCOMP = 29, /* step (bytes filter, u64 flags): seccomp(2): a sock_filter array, SECCOMP_FILTER_FLAG_* */
	OP_CHDIR = 30, /* step (path): chdir(2) */
	OP_CLOEXEC_FDS = 31, /* step (u64 first_fd): mark every fd from first_fd close-on-exec */
	OP_RESET_SIGNALS = 32, /* step (): default dispositions, an empty mask */
	OP_AWAIT_START = 33, /* step (): report READY, block until START: the create/start split */
	OP_EXEC = 34, /* step (file, list argv, list envp, search): execve(2), searching the container's PATH (search: "a:b") */
	OP_KEEP_CAPS = 35, /* step (u64 on): PR_SET_KEEPCAPS across setuid */
	OP_SET_DUMPABLE = 36, /* step (u64 on): PR_SET_DUMPABLE */
	OP_UNSHARE = 37, /* step (u64 flags): unshare(2), e.g. the cgroup namespace once in its cgroup */
	OP_TERMINAL = 38, /* step (): a pty from the container's /dev/ptmx as stdio; the master goes to the monitor */
	OP_FORK_REAPER = 39, /* step (): --init: fork; the parent stays as pid 1, reaping and forwarding signals */
	OP_NEW_SESSION = 40, /* step (): setsid: no controlling terminal (the user's terminal must not be reachable) */
	OP_MOUNT_SETATTR = 41, /* step (path, u64 attr_set, u64 attr_clr, u64 recursive): mount_setattr(2), e.g. read-only for a whole tree */
	OP_WRITE_FILE = 42, /* step (path, data): write an existing file, e.g. a namespaced sysctl under /proc/sys */
	OP_PARENT_DEATH_SIGNAL = 43, /* step (u64 signal): PR_SET_PDEATHSIG; the helper also applies it right after clone */
	OP_START_FIFO = 50, /* setting (path): OCI: the start barrier is this FIFO; the helper leaves after READY */
	OP_CONSOLE_SOCKET = 51, /* setting (path, u64 rows, u64 cols): OCI: the pty master goes to this unix socket */
	OP_LEAVE = 52, /* setting (): leave once the command has started (exec -d, OCI exec --detach): no monitor */
	OP_FIND_EXEC = 53, /* step (file, search): OCI: the executable exists, checked before the barrier */
	OP_UMASK = 54, /* step (u64 mask): umask(2) */
	OP_RAISE_AMBIENT = 55, /* step (bytes caps): raise each capability (u8 each) in the ambient set */
	OP_PERSONALITY = 57, /* step (u64 persona): personality(2) */
	OP_PRESERVE_FDS = 58, /* setting (u64 count): OCI: keep fds 5..5+count-1 (--preserve-fds) */
	OP_MOVE_FDS = 59, /* step (u64 from, u64 count): dup2 from..from+count-1 onto 3..3+count-1, just before exec */
	OP_HOOK_STATE = 60, /* step (path): OCI: open the state file hooks run by the init read on stdin */
	OP_RUN_HOOK = 61, /* step (path, list argv, list envp, u64 timeout_s): OCI: fork, exec, wait: a hook (timeout 0: none) */
	OP_TIME_NAMESPACE = 62, /* setting (u64 monotonic_s, u64 monotonic_ns, u64 boottime_s, u64 boottime_ns): OCI: unshare a time namespace for the init */
	OP_IDMAP_MOUNT = 63, /* setting (source, u64 recursive, u64 attributes): OCI: a detached bind, idmapped to the init's user namespace */
	OP_ATTACH_MOUNT = 64, /* step (u64 index, target): move_mount the index-th detached mount the helper sent onto target */
	OP_HOLD_MOUNT_NAMESPACE = 65, /* setting (): the monitor holds the init's mount namespace until it has reported the exit, so that the kernel unmounts the container's mounts after the report, not before it (--rm) */
};

enum op_flag {
	OPF_IN_ROOT = 1,
	OPF_OPTIONAL = 2,
	OPF_MKDIR_TARGET = 4,
	OPF_MKFILE_TARGET = 8,
};

/* An op's shape: setting 0 (a step), 1 (once), 2 (may repeat); kinds: one letter an argument, s string, u u64, b bytes, l list. */
struct op_shape {
	uint16_t code;
	const char *name;
	uint8_t setting;
	uint8_t min_args;
	uint8_t max_args;
	const char *kinds;
};

static const struct op_shape OP_SHAPES[] = {
	{ OP_CLONE, "clone", 1, 1, 1, "u" },
	{ OP_EXIT_RECORD, "exit-record", 1, 1, 2, "ss" },
	{ OP_CLEANUP_HOOK, "cleanup-hook", 1, 1, 1, "l" },
	{ OP_JOIN_NAMESPACE, "join-namespace", 2, 2, 2, "su" },
	{ OP_DETACH, "detach", 1, 0, 0, "" },
	{ OP_LOG, "log", 1, 2, 3, "suu" },
	{ OP_RELAY_TERMINAL, "relay-terminal", 1, 1, 1, "u" },
	{ OP_MOUNT, "mount", 0, 5, 5, "sssus" },
	{ OP_MKDIR, "mkdir", 0, 2, 2, "su" },
	{ OP_MKNOD, "mknod", 0, 3, 3, "suu" },
	{ OP_SYMLINK, "symlink", 0, 2, 2, "ss" },
	{ OP_OPEN_ROOT, "open-root", 0, 1, 1, "s" },
	{ OP_PIVOT_ROOT, "pivot-root", 0, 0, 0, "" },
	{ OP_SETHOSTNAME, "sethostname", 0, 1, 1, "s" },
	{ OP_SETDOMAINNAME, "setdomainname", 0, 1, 1, "s" },
	{ OP_MASK_PATH, "mask-path", 0, 1, 1, "s" },
	{ OP_READONLY_PATH, "readonly-path", 0, 2, 2, "su" },
	{ OP_SETRLIMIT, "setrlimit", 0, 3, 3, "uuu" },
	{ OP_SETGROUPS, "setgroups", 0, 1, 1, "b" },
	{ OP_SETGID, "setgid", 0, 1, 1, "u" },
	{ OP_SETUID, "setuid", 0, 1, 1, "u" },
	{ OP_DROP_BOUNDING, "drop-bounding", 0, 1, 1, "b" },
	{ OP_SET_CAPS, "set-caps", 0, 3, 3, "uuu" },
	{ OP_CLEAR_AMBIENT, "clear-ambient", 0, 0, 0, "" },
	{ OP_NO_NEW_PRIVS, "no-new-privs", 0, 0, 0, "" },
	{ OP_SECCOMP, "seccomp", 0, 1, 2, "bu" },
	{ OP_CHDIR, "chdir", 0, 1, 1, "s" },
	{ OP_CLOEXEC_FDS, "cloexec-fds", 0, 1, 1, "u" },
	{ OP_RESET_SIGNALS, "reset-signals", 0, 0, 0, "" },
	{ OP_AWAIT_START, "await-start", 0, 0, 0, "" },
	{ OP_EXEC, "exec", 0, 4, 4, "slls" },
	{ OP_KEEP_CAPS, "keep-caps", 0, 1, 1, "u" },
	{ OP_SET_DUMPABLE, "set-dumpable", 0, 1, 1, "u" },
	{ OP_UNSHARE, "unshare", 0, 1, 1, "u" },
	{ OP_TERMINAL, "terminal", 0, 0, 0, "" },
	{ OP_FORK_REAPER, "fork-reaper", 0, 0, 0, "" },
	{ OP_NEW_SESSION, "new-session", 0, 0, 0, "" },
	{ OP_MOUNT_SETATTR, "mount-setattr", 0, 4, 4, "suuu" },
	{ OP_WRITE_FILE, "write-file", 0, 2, 2, "ss" },
	{ OP_PARENT_DEATH_SIGNAL, "parent-death-signal", 0, 1, 1, "u" },
	{ OP_START_FIFO, "start-fifo", 1, 1, 1, "s" },
	{ OP_CONSOLE_SOCKET, "console-socket", 1, 3, 3, "suu" },
	{ OP_LEAVE, "leave", 1, 0, 0, "" },
	{ OP_FIND_EXEC, "find-exec", 0, 2, 2, "ss" },
	{ OP_UMASK, "umask", 0, 1, 1, "u" },
	{ OP_RAISE_AMBIENT, "raise-ambient", 0, 1, 1, "b" },
	{ OP_PERSONALITY, "personality", 0, 1, 1, "u" },
	{ OP_PRESERVE_FDS, "preserve-fds", 1, 1, 1, "u" },
	{ OP_MOVE_FDS, "move-fds", 0, 2, 2, "uu" },
	{ OP_HOOK_STATE, "hook-state", 0, 1, 1, "s" },
	{ OP_RUN_HOOK, "run-hook", 0, 4, 4, "sllu" },
	{ OP_TIME_NAMESPACE, "time-namespace", 1, 4, 4, "uuuu" },
	{ OP_IDMAP_MOUNT, "idmap-mount", 2, 3, 3, "suu" },
	{ OP_ATTACH_MOUNT, "attach-mount", 0, 2, 2, "us" },
	{ OP_HOLD_MOUNT_NAMESPACE, "hold-mount-namespace", 1, 0, 0, "" },
};

/* Each argument's position, by name: plan_str(op, ARG_MOUNT_TARGET), not plan_str(op, 1). */
#define ARG_CLONE_FLAGS 0
#define ARG_EXIT_RECORD_PATH 0
#define ARG_EXIT_RECORD_RESERVE 1
#define ARG_CLEANUP_HOOK_ARGV 0
#define ARG_JOIN_NAMESPACE_PATH 0
#define ARG_JOIN_NAMESPACE_NSTYPE 1
#define ARG_LOG_PATH 0
#define ARG_LOG_MAX_BYTES 1
#define ARG_LOG_TEE 2
#define ARG_RELAY_TERMINAL_RAW 0
#define ARG_MOUNT_SOURCE 0
#define ARG_MOUNT_TARGET 1
#define ARG_MOUNT_FSTYPE 2
#define ARG_MOUNT_FLAGS 3
#define ARG_MOUNT_DATA 4
#define ARG_MKDIR_PATH 0
#define ARG_MKDIR_MODE 1
#define ARG_MKNOD_PATH 0
#define ARG_MKNOD_MODE 1
#define ARG_MKNOD_DEV 2
#define ARG_SYMLINK_TARGET 0
#define ARG_SYMLINK_LINKPATH 1
#define ARG_OPEN_ROOT_PATH 0
#define ARG_SETHOSTNAME_NAME 0
#define ARG_SETDOMAINNAME_NAME 0
#define ARG_MASK_PATH_PATH 0
#define ARG_READONLY_PATH_PATH 0
#define ARG_READONLY_PATH_KEEP_FLAGS 1
#define ARG_SETRLIMIT_RESOURCE 0
#define ARG_SETRLIMIT_SOFT 1
#define ARG_SETRLIMIT_HARD 2
#define ARG_SETGROUPS_GIDS 0
#define ARG_SETGID_GID 0
#define ARG_SETUID_UID 0
#define ARG_DROP_BOUNDING_CAPS 0
#define ARG_SET_CAPS_EFFECTIVE 0
#define ARG_SET_CAPS_PERMITTED 1
#define ARG_SET_CAPS_INHERITABLE 2
#define ARG_SECCOMP_FILTER 0
#define ARG_SECCOMP_FLAGS 1
#define ARG_CHDIR_PATH 0
#define ARG_CLOEXEC_FDS_FIRST_FD 0
#define ARG_EXEC_FILE 0
#define ARG_EXEC_ARGV 1
#define ARG_EXEC_ENVP 2
#define ARG_EXEC_SEARCH 3
#define ARG_KEEP_CAPS_ON 0
#define ARG_SET_DUMPABLE_ON 0
#define ARG_UNSHARE_FLAGS 0
#define ARG_MOUNT_SETATTR_PATH 0
#define ARG_MOUNT_SETATTR_ATTR_SET 1
#define ARG_MOUNT_SETATTR_ATTR_CLR 2
#define ARG_MOUNT_SETATTR_RECURSIVE 3
#define ARG_WRITE_FILE_PATH 0
#define ARG_WRITE_FILE_DATA 1
#define ARG_PARENT_DEATH_SIGNAL_SIGNAL 0
#define ARG_START_FIFO_PATH 0
#define ARG_CONSOLE_SOCKET_PATH 0
#define ARG_CONSOLE_SOCKET_ROWS 1
#define ARG_CONSOLE_SOCKET_COLS 2
#define ARG_FIND_EXEC_FILE 0
#define ARG_FIND_EXEC_SEARCH 1
#define ARG_UMASK_MASK 0
#define ARG_RAISE_AMBIENT_CAPS 0
#define ARG_PERSONALITY_PERSONA 0
#define ARG_PRESERVE_FDS_COUNT 0
#define ARG_MOVE_FDS_FROM 0
#define ARG_MOVE_FDS_COUNT 1
#define ARG_HOOK_STATE_PATH 0
#define ARG_RUN_HOOK_PATH 0
#define ARG_RUN_HOOK_ARGV 1
#define ARG_RUN_HOOK_ENVP 2
#define ARG_RUN_HOOK_TIMEOUT_S 3
#define ARG_TIME_NAMESPACE_MONOTONIC_S 0
#define ARG_TIME_NAMESPACE_MONOTONIC_NS 1
#define ARG_TIME_NAMESPACE_BOOTTIME_S 2
#define ARG_TIME_NAMESPACE_BOOTTIME_NS 3
#define ARG_IDMAP_MOUNT_SOURCE 0
#define ARG_IDMAP_MOUNT_RECURSIVE 1
#define ARG_IDMAP_MOUNT_ATTRIBUTES 2
#define ARG_ATTACH_MOUNT_INDEX 0
#define ARG_ATTACH_MOUNT_TARGET 1

#endif
