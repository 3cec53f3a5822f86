/*
 * diyc-helper: makes the container's init and then stays as its monitor.
 *
 * Why a C helper at all: Bun is multi-threaded before it runs a line of our
 * code, and clone/unshare/setns of the mount, user and pid namespaces need a
 * single-threaded caller (docs/namespaces.md, "Why a C helper"). This
 * program is that caller. It decides nothing about the container: the plan
 * it reads says what to do (native/plan.h); the few choices it makes about
 * its own job are listed in docs/helper-protocol.md ("What the C side
 * decides"). The protocol with diyc is drawn in native/protocol.h.
 *
 * main() reads top to bottom:
 *   1. read and decode the plan from fd 3
 *   2. detach into a session of our own (run -d); open the OCI start FIFO and
 *      console socket (host paths); join namespaces (exec, a pod's netns)
 *   3. clone the init into new namespaces; it blocks until CONTINUE. With a
 *      log, its stdout and stderr are pipes that the monitor drains
 *   4. relay CONTINUE / READY / START between diyc and the init. For the OCI
 *      door (bin/diyc-oci) the caller is the monitor: the pty master goes to
 *      its console socket, and the helper leaves after READY (START_FIFO) or
 *      once the command runs (LEAVE), so the caller becomes the parent
 *   5. monitor: forward signals, wait, record the exit status, tell diyc
 *      (or run the cleanup hook when diyc is gone)
 *
 * `diyc-helper --print-plan` decodes a plan from stdin and prints it: the
 * unit tests use it to check that TypeScript and C read the same bytes.
 */
#define _GNU_SOURCE
#include "monitor.h"
#include "ops.h"
#include "plan.h"
#include "protocol.h"
#include "sync.h"
#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		got += (size_t)n;
	}
	return 0;
}

/* The plan arrives as u32 length + bytes. */
static int read_plan(int fd, struct plan *plan)
{
	uint32_t len;
	int rc = read_full(fd, &len, sizeof(len));
	if (rc < 0)
		return rc;
	if (len > PLAN_MAX_BYTES)
		return -E2BIG;
	char *bytes = malloc(len ? len : 1);
	if (!bytes)
		return -ENOMEM;
	if ((rc = read_full(fd, bytes, len)) < 0 || (rc = plan_decode(bytes, len, plan)) < 0) {
		free(bytes);
		return rc;
	}
	return 0;
}

/* setns into each namespace the plan names. 0, or -errno with *failed set to the op's index. */
static int join_namespaces(const struct plan *plan, uint32_t *failed)
{
	for (uint32_t i = 0; i < plan->count; i++) {
		const struct plan_op *op = &plan->ops[i];
		uint64_t nstype;
		if (op->code != OP_JOIN_NAMESPACE)
			continue;
		*failed = i;
		if (plan_u64(op, ARG_JOIN_NAMESPACE_NSTYPE, &nstype) < 0)
			return -EINVAL;
		int fd = open(plan_str(op, ARG_JOIN_NAMESPACE_PATH), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		int rc = setns(fd, (int)nstype);
		int saved = errno;
		close(fd);
		if (rc < 0)
			return -saved;
	}
	return 0;
}

/*
 * One of the plan's own steps failed in the helper (clone, setsid, setns):
 * reported like a step of the init's, by index, so diyc names it with the
 * plan's words ("clone new namespaces: mount, uts...: operation not permitted").
 */
static int step_error(int control_fd, const struct plan *plan, const struct plan_op *op, int err)
{
	sync_send(control_fd, SYNC_ERROR, (int32_t)(op - plan->ops), err);
	return 1;
}

/* The init's side: wait for CONTINUE, then run the plan. Never returns. */
static void run_init(const struct plan *plan, int init_fd, const struct log_pipes *log)
{
	struct sync_msg msg;
	/*
	 * The -v trace goes where diyc's stderr goes, even when the command's goes
	 * to the log. Only with a trace: a parked init (OCI create) must hold no
	 * copy of the caller's stderr, or a caller that reads it to EOF (the
	 * containerd shim, with a terminal) would wait for the container's start.
	 */
	int trace_fd = -1;
	for (uint32_t i = 0; i < plan->count && trace_fd < 0; i++)
		if (plan->ops[i].trace_len > 0)
			trace_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (log->enabled) {
		/* stdout and stderr become the monitor's pipes; the read ends are the monitor's alone. */
		if (dup2(log->out[1], STDOUT_FILENO) < 0 || dup2(log->err[1], STDERR_FILENO) < 0)
			_exit(1);
		log_pipes_close(log);
	}
	/*
	 * No container process exists until the plan runs, and its first step
	 * makes us non-dumpable. Idmapped mounts the helper prepared come first.
	 */
	for (;;) {
		int passed;
		if (sync_recv_fd(init_fd, &msg, &passed) != 1)
			_exit(1); /* diyc or the helper went away during set-up */
		if (msg.type == SYNC_MOUNT_FD && passed >= 0 && ops_add_mount_fd(passed) == 0)
			continue;
		if (msg.type != SYNC_CONTINUE)
			_exit(1);
		break;
	}
	ops_run(plan, init_fd, trace_fd);
	_exit(1);
}

/*
 * Relay the init's next message to diyc; returns its type, 0 at EOF, or
 * -errno when the read failed (never taken for EOF: that would fake a start). The
 * pty master (TERMINAL) is the monitor's to keep, not diyc's: it is stored
 * in *terminal and the wait goes on.
 */
static int relay_from_init(int init_fd, int control_fd, int *terminal)
{
	struct sync_msg msg;
	int passed;
	for (;;) {
		int rc = sync_recv_fd(init_fd, &msg, &passed);
		if (rc <= 0)
			return rc; /* 0: EOF; -errno: the read failed (-EIO: half a message) */
		if (msg.type != SYNC_TERMINAL)
			break;
		*terminal = passed;
	}
	if (passed >= 0)
		close(passed); /* nothing else carries a descriptor */
	sync_send(control_fd, msg.type, msg.a, msg.b);
	return (int)msg.type;
}

static int helper_error(int control_fd, int step, int err)
{
	sync_send(control_fd, SYNC_HELPER_ERROR, step, err);
	return 1;
}

/* OCI --console-socket: the pty master goes to the caller instead of staying with a monitor. Closes both. */
static int send_console(const struct plan *plan, int sock, int terminal)
{
	const struct plan_op *console = plan_find(plan, OP_CONSOLE_SOCKET);
	uint64_t rows = 0, cols = 0;
	int rc = -EINVAL;
	if (plan_u64(console, ARG_CONSOLE_SOCKET_ROWS, &rows) == 0 && plan_u64(console, ARG_CONSOLE_SOCKET_COLS, &cols) == 0)
		rc = terminal_send_master(sock, terminal, (unsigned)rows, (unsigned)cols);
	close(terminal);
	close(sock);
	return rc;
}

/*
 * A new time namespace for the init: clone(2) has no flag for it, so the
 * helper unshares it (it applies to children) and writes the clock offsets,
 * which the kernel accepts only before a process enters the namespace.
 */
static int new_time_namespace(const struct plan_op *op)
{
	static const unsigned order[4] = {
		ARG_TIME_NAMESPACE_MONOTONIC_S, ARG_TIME_NAMESPACE_MONOTONIC_NS, ARG_TIME_NAMESPACE_BOOTTIME_S, ARG_TIME_NAMESPACE_BOOTTIME_NS,
	};
	uint64_t v[4];
	char text[128];
	for (unsigned i = 0; i < 4; i++)
		if (plan_u64(op, order[i], &v[i]) < 0)
			return -EINVAL;
	if (unshare(CLONE_NEWTIME) < 0)
		return -errno;
	int len = snprintf(text, sizeof(text), "monotonic %lld %lld\nboottime %lld %lld\n",
			   (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3]);
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = write_all(fd, text, (size_t)len);
	close(fd);
	return rc;
}

/*
 * OCI idmapped mounts: a detached copy of each source (open_tree), idmapped
 * to the init's user namespace (mount_setattr), sent to the init, which
 * attaches it inside the container (OP_ATTACH_MOUNT). Done here because
 * idmapping a host filesystem needs the host's CAP_SYS_ADMIN, which the init,
 * in its own user namespace, does not have. 0 or -errno.
 */
static int send_idmapped_mounts(const struct plan *plan, pid_t init, int init_fd, uint32_t *failed)
{
	char userns_path[64];
	int userns = -1, rc = 0;
	for (uint32_t i = 0; i < plan->count && rc == 0; i++) {
		const struct plan_op *op = &plan->ops[i];
		uint64_t recursive, attrs;
		if (op->code != OP_IDMAP_MOUNT)
			continue;
		*failed = i; /* an error is reported as this op's: diyc names its source */
		if (!plan_str(op, ARG_IDMAP_MOUNT_SOURCE) || plan_u64(op, ARG_IDMAP_MOUNT_RECURSIVE, &recursive) < 0 || plan_u64(op, ARG_IDMAP_MOUNT_ATTRIBUTES, &attrs) < 0) {
			rc = -EINVAL;
			break;
		}
		if (userns < 0) {
			snprintf(userns_path, sizeof(userns_path), "/proc/%d/ns/user", (int)init);
			if ((userns = open(userns_path, O_RDONLY | O_CLOEXEC)) < 0) {
				rc = -errno;
				break;
			}
		}
		int tree = (int)syscall(SYS_open_tree, AT_FDCWD, plan_str(op, ARG_IDMAP_MOUNT_SOURCE),
					OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
		if (tree < 0) {
			rc = -errno;
			break;
		}
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | attrs, .userns_fd = (uint64_t)userns };
		if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0)
			rc = -errno;
		else
			rc = sync_send_fd(init_fd, SYNC_MOUNT_FD, tree);
		close(tree);
	}
	if (userns >= 0)
		close(userns);
	return rc;
}

/* Wait for diyc's next word; 0 at EOF (diyc is gone). */
static int next_from_diyc(int control_fd)
{
	struct sync_msg msg;
	return sync_recv(control_fd, &msg) == 1 ? (int)msg.type : 0;
}


/*
 * The container will not start: the init failed, or diyc gave up (ABORT) or
 * is gone (EOF). Kill the init; then, unless diyc said ABORT (it undoes its
 * own steps), wait for diyc's word and, if it is gone, run the cleanup hook:
 * the cgroup, the address and the port rules it made must not outlive it.
 */
static int abandon(const struct plan *plan, pid_t init, int control_fd, int last_word)
{
	kill(init, SIGKILL);
	while (waitpid(init, NULL, 0) < 0 && errno == EINTR)
		;
	if (last_word == 0)
		monitor_diyc_gone(plan, control_fd);
	else if (last_word != SYNC_ABORT && next_from_diyc(control_fd) != SYNC_ABORT)
		monitor_diyc_gone(plan, control_fd);
	return 1;
}

int main(int argc, char **argv)
{
	const int control_fd = HELPER_SOCKET_FD;
	struct plan plan;
	int sockets[2];
	uint64_t clone_flags = 0;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--print-plan") == 0)
		return plan_print(STDIN_FILENO, stdout);

	/*
	 * Only stdio and the control socket are ours to keep: fd 4 held our own
	 * image (see src/runtime/helper-channel.ts), and nothing else of diyc's
	 * may reach the container or live on in the monitor. Except the OCI
	 * --preserve-fds, passed from fd 5 on: those are closed once the plan
	 * has said how many there are.
	 */
	close(HELPER_SOCKET_FD + 1);
	syscall(SYS_close_range, HELPER_PRESERVED_FD, ~0U, CLOSE_RANGE_CLOEXEC);

	/* Executed as /proc/self/fd/4, our name would be "4" in ps. */
	prctl(PR_SET_NAME, "diyc-helper", 0, 0, 0);

	/* A write to a vanished diyc must return EPIPE, not kill the monitor. */
	signal(SIGPIPE, SIG_IGN);

	/* 1. the plan */
	if ((rc = read_plan(control_fd, &plan)) < 0)
		return helper_error(control_fd, rc == -EINVAL ? HELPER_DECODE_PLAN : HELPER_READ_PLAN, -rc);
	uint64_t preserved = 0;
	const struct plan_op *preserve = plan_find(&plan, OP_PRESERVE_FDS);
	if (preserve && plan_u64(preserve, ARG_PRESERVE_FDS_COUNT, &preserved) < 0)
		return step_error(control_fd, &plan, preserve, EINVAL);
	syscall(SYS_close_range, HELPER_PRESERVED_FD + (unsigned)preserved, ~0U, 0);
	const struct plan_op *clone_op = plan_find(&plan, OP_CLONE);
	/* An undecodable flags argument must not become 0: that would clone into the host's namespaces. */
	if (clone_op && plan_u64(clone_op, ARG_CLONE_FLAGS, &clone_flags) < 0)
		return step_error(control_fd, &plan, clone_op, EINVAL);

	/*
	 * 2. a session of our own for a detached container: the user's terminal
	 * and its signals no longer reach the monitor. Then namespaces to join.
	 */
	const struct plan_op *detach = plan_find(&plan, OP_DETACH);
	if (detach && setsid() < 0)
		return step_error(control_fd, &plan, detach, errno);
	/*
	 * The OCI start barrier and console socket: host paths, so opened before
	 * any namespace is joined. The init inherits the FIFO across the clone.
	 */
	const struct plan_op *start_fifo = plan_find(&plan, OP_START_FIFO);
	if (start_fifo) {
		int fd = plan_str(start_fifo, ARG_START_FIFO_PATH) ? open(plan_str(start_fifo, ARG_START_FIFO_PATH), O_PATH | O_CLOEXEC) : -1;
		if (fd < 0)
			return step_error(control_fd, &plan, start_fifo, plan_str(start_fifo, ARG_START_FIFO_PATH) ? errno : EINVAL);
		ops_set_start_fifo(fd);
	}
	const struct plan_op *console_op = plan_find(&plan, OP_CONSOLE_SOCKET);
	int console = -1;
	if (console_op) {
		console = plan_str(console_op, ARG_CONSOLE_SOCKET_PATH) ? terminal_connect_socket(plan_str(console_op, ARG_CONSOLE_SOCKET_PATH)) : -EINVAL;
		if (console < 0)
			return helper_error(control_fd, HELPER_CONSOLE_SOCKET, -console);
	}

	uint32_t failed = 0;
	if ((rc = join_namespaces(&plan, &failed)) < 0)
		return step_error(control_fd, &plan, &plan.ops[failed], -rc);
	const struct plan_op *timens = plan_find(&plan, OP_TIME_NAMESPACE);
	if (timens && (rc = new_time_namespace(timens)) < 0)
		return step_error(control_fd, &plan, timens, -rc);

	/* 3. the init, in its new namespaces, parked on its end of a socketpair */
	struct log_pipes log;
	if (log_pipes_open(&log, plan_find(&plan, OP_LOG) != NULL) < 0)
		return helper_error(control_fd, HELPER_PIPE, errno);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) < 0)
		return helper_error(control_fd, HELPER_SOCKETPAIR, errno);
	const struct plan_op *death_op = plan_find(&plan, OP_PARENT_DEATH_SIGNAL);
	pid_t init = (pid_t)syscall(SYS_clone, (unsigned long)clone_flags | SIGCHLD, NULL, NULL, NULL, 0);
	if (init < 0)
		return clone_op ? step_error(control_fd, &plan, clone_op, errno) : helper_error(control_fd, HELPER_CLONE, errno);
	if (init == 0) {
		/*
		 * A container must not outlive its monitor: nobody would record its
		 * exit or clean up after it. The plan's op applies the signal again
		 * after the id changes (which clear it); this covers the set-up. If
		 * the helper died before this line, its end of the socketpair is
		 * closed and run_init's first read ends us.
		 */
		uint64_t death_signal;
		if (death_op && plan_u64(death_op, ARG_PARENT_DEATH_SIGNAL_SIGNAL, &death_signal) == 0)
			prctl(PR_SET_PDEATHSIG, (unsigned long)death_signal, 0, 0, 0);
		close(control_fd);
		if (console >= 0)
			close(console);
		close(sockets[0]);
		run_init(&plan, sockets[1], &log);
	}
	close(sockets[1]);
	/*
	 * HoldMountNamespace: a reference to the init's mount namespace, so that
	 * the kernel's teardown of its mounts (an RCU wait per unmount batch, a
	 * few ms) happens when the monitor closes this, after it has reported the
	 * exit, instead of inside the init's exit, before it. Opened now, while
	 * the init is parked: after exec a short command may be gone already.
	 * Best effort: without it the teardown happens at the exit, as it would.
	 */
	int held_mnt_ns = -1;
	if (plan_find(&plan, OP_HOLD_MOUNT_NAMESPACE)) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)init);
		held_mnt_ns = open(path, O_RDONLY | O_CLOEXEC);
	}
	/* The init has the --preserve-fds now; a monitor holding its copies would keep a caller's pipe from ending. */
	if (preserved > 0)
		syscall(SYS_close_range, HELPER_PRESERVED_FD, HELPER_PRESERVED_FD + (unsigned)preserved - 1, 0);
	log_pipes_keep_read_ends(&log);
	int init_fd = sockets[0];
	sync_send(control_fd, SYNC_PID, init, 0);

	/*
	 * 4. relay: CONTINUE -> (READY | ERROR), START -> (EOF = exec'd | ERROR).
	 * A word from diyc other than the expected one is ABORT, or 0 (EOF: diyc is gone).
	 */
	int word = next_from_diyc(control_fd);
	if (word != SYNC_CONTINUE)
		return abandon(&plan, init, control_fd, word);
	if ((rc = send_idmapped_mounts(&plan, init, init_fd, &failed)) < 0) {
		step_error(control_fd, &plan, &plan.ops[failed], -rc);
		return abandon(&plan, init, control_fd, -1);
	}
	sync_send(init_fd, SYNC_CONTINUE, 0, 0);
	int terminal = -1;
	int relayed = relay_from_init(init_fd, control_fd, &terminal);
	if (relayed < 0)
		helper_error(control_fd, HELPER_RELAY_FROM_INIT, -relayed);
	else if (relayed == 0) /* the init died without a word: diyc must hear of it, not wait forever */
		helper_error(control_fd, HELPER_INIT_VANISHED, ESRCH);
	if (relayed != SYNC_READY)
		return abandon(&plan, init, control_fd, -1); /* the error went to diyc: wait for its ABORT */
	if (terminal >= 0 && console >= 0) {
		rc = send_console(&plan, console, terminal);
		console = -1;
		terminal = -1;
		if (rc < 0) {
			helper_error(control_fd, HELPER_CONSOLE_SOCKET, -rc);
			return abandon(&plan, init, control_fd, -1);
		}
	}
	/*
	 * OCI create: the init now waits on the FIFO, and the caller (a
	 * subreaper) is its monitor. Leaving makes the caller its parent.
	 */
	if (start_fifo)
		return 0;
	if ((word = next_from_diyc(control_fd)) != SYNC_START)
		return abandon(&plan, init, control_fd, word);
	sync_send(init_fd, SYNC_START, 0, 0);
	/*
	 * EOF on the sync socket means execve closed it (close-on-exec): started.
	 * (An init killed between START and execve also reads as started; the
	 * monitor then reports its wait status like any exit.)
	 */
	int started = relay_from_init(init_fd, control_fd, &terminal);
	if (started < 0) /* not EOF: nothing says the command started */
		helper_error(control_fd, HELPER_RELAY_FROM_INIT, -started);
	if (started != 0)
		return abandon(&plan, init, control_fd, -1); /* an ERROR: execve failed, already relayed */
	close(init_fd);
	sync_send(control_fd, SYNC_STARTED, 0, 0);
	/* OCI exec --detach: the caller waits for the process, not us. */
	if (plan_find(&plan, OP_LEAVE))
		return 0;

	/* 5. the monitor */
	return monitor_run(&plan, init, control_fd, &log, terminal, held_mnt_ns);
}
