/*
 * The monitor: what the helper does once the container's command runs.
 *
 * It is the init's parent, so it is the one process that can wait(2) for it.
 * It forwards signals, keeps the log of a detached container, records the
 * exit status where the plan says, tells diyc, and if diyc is gone runs the
 * plan's cleanup hook (which is diyc again, with the container's name). It
 * holds no policy about the container (docs/helper-protocol.md, "What the C
 * side decides", lists its own few choices): the paths, the log's size bound and the hook come from
 * the plan. The log and the terminal relay are in log.c and terminal.c.
 */
#define _GNU_SOURCE
#include "monitor.h"
#include "protocol.h"
#include "sync.h"
#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t forward_to;
/* The init is in our process group (nsexec: it keeps the user's terminal). */
static volatile int init_in_our_group;

/*
 * Forward the signals we get to the init: those a process sent us (kill(2))
 * and those the user's terminal sent our process group (Ctrl-C, Ctrl-\, a
 * hang-up; si_code > 0, from the kernel). A container's init is in a session
 * of its own (OP_NEW_SESSION or OP_TERMINAL), so the terminal never signals
 * it directly: we are its only way in. An init still in our process group
 * got the terminal's signal itself: passing it on would deliver it twice.
 */
static void forward_signal(int sig, siginfo_t *info, void *context)
{
	(void)context;
	if (sig == SIGWINCH)
		terminal_window_changed = 1; /* the user's terminal was resized: the relay passes it on */
	else if (forward_to > 0 && !(init_in_our_group && info->si_code > 0))
		kill(forward_to, sig);
}

static void install_forwarding(pid_t init)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_sigaction = forward_signal;
	action.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&action.sa_mask);
	/* After START: the init has made any session of its own by now. */
	init_in_our_group = getpgid(init) == getpgrp();
	forward_to = init;
	for (int sig = 1; sig < 32; sig++) {
		switch (sig) {
		/*
		 * A fault of our own (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS)
		 * keeps its default action: returning from a handler would re-run the
		 * faulting instruction forever. The monitor dies, its init with it
		 * (PR_SET_PDEATHSIG), and `ps` reads the facts as "monitor lost".
		 */
		case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP: case SIGSYS:
		case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGPIPE:
		/* Job control stops the monitor with its terminal group, as it should. */
		case SIGTSTP: case SIGTTIN: case SIGTTOU:
			continue;
		}
		sigaction(sig, &action, NULL);
	}
}

static int wait_for(pid_t init)
{
	int status;
	while (waitpid(init, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

/*
 * exit.json, written to a temporary file and renamed: readers never see half.
 * The temporary file is the one diyc made at create (`reserve`, EXIT_RECORD_BYTES):
 * overwriting it in place needs no new disk blocks, so a full disk cannot
 * lose the exit status. Without it, a new file is tried.
 */
static void write_exit_record(const char *path, const char *reserve, int status)
{
	char tmp[4096], body[EXIT_RECORD_BYTES];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int len = snprintf(body, sizeof(body), "{\"waitStatus\":%d,\"finishedAtMs\":%lld}", status, ms);
	if (len < 0 || len >= (int)sizeof(body) - 1)
		return;
	/* Padded with spaces to the reserve's size (JSON allows trailing whitespace). */
	memset(body + len, ' ', sizeof(body) - 1 - (size_t)len);
	body[sizeof(body) - 1] = '\n';
	const char *target = reserve;
	int fd = reserve ? open(reserve, O_WRONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
			return;
		target = tmp;
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return; /* best effort: status is also derived from the dead pid */
	}
	/* No fsync: after a power loss the status is derived again from pids anyway. */
	if (pwrite(fd, body, sizeof(body), 0) == (ssize_t)sizeof(body)) {
		close(fd);
		rename(target, path);
		return;
	}
	close(fd);
	if (target == tmp)
		unlink(tmp);
}

static void run_cleanup_hook(const struct plan *plan)
{
	const struct plan_op *hook = plan_find(plan, OP_CLEANUP_HOOK);
	char **argv = hook ? plan_list(hook, ARG_CLEANUP_HOOK_ARGV) : NULL;
	if (!argv || !argv[0])
		return;
	/* The hook must not inherit our forwarding handlers' targets. */
	for (int sig = 1; sig < 32; sig++)
		signal(sig, SIG_DFL);
	execv(argv[0], argv); /* best effort: if it fails, the next diyc command reconciles */
}

/*
 * A detached container's monitor lets go of diyc's stdio (stderr is kept
 * until the start for -v): a pipeline such as `diyc run -d x 2>&1 | tail`
 * must end when diyc does, not when the container does. Its cleanup hook
 * inherits /dev/null too.
 */
static void let_go_of_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return; /* best effort */
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
}

int monitor_run(const struct plan *plan, pid_t init, int control_fd, const struct log_pipes *log, int terminal, int held_mnt_ns)
{
	if (plan_find(plan, OP_DETACH))
		let_go_of_stdio();
	install_forwarding(init);
	if (terminal >= 0) {
		const struct plan_op *relay = plan_find(plan, OP_RELAY_TERMINAL);
		uint64_t raw = 0;
		if (relay && plan_u64(relay, ARG_RELAY_TERMINAL_RAW, &raw) == 0) {
			struct log_file lf = { NULL, 0, 0, -1, 0 };
			int logged = log_file_from_plan(plan, &lf) == 0;
			terminal_relay(terminal, (int)raw, logged ? &lf : NULL);
			log_file_close(&lf);
		} else
			log_drain_terminal(plan, terminal);
		close(terminal);
	}
	if (log->enabled)
		log_drain(plan, log);
	int status = wait_for(init);
	forward_to = 0;

	const struct plan_op *record = plan_find(plan, OP_EXIT_RECORD);
	if (record && plan_str(record, ARG_EXIT_RECORD_PATH))
		write_exit_record(plan_str(record, ARG_EXIT_RECORD_PATH), plan_str(record, ARG_EXIT_RECORD_RESERVE), status);

	/*
	 * diyc is still there: it cleans up and says DONE. If it is gone, or dies
	 * before DONE (killed while removing a --rm container), the hook does it.
	 */
	struct sync_msg reply;
	int reported = sync_send(control_fd, SYNC_EXIT, status, 0);
	/*
	 * The exit is reported: let go of the mount namespace. The kernel unmounts
	 * the container's mounts here, while diyc releases the cgroup and removes
	 * the container; diyc returns only after we have exited, so after this.
	 */
	if (held_mnt_ns >= 0)
		close(held_mnt_ns);
	if (reported == 0 && sync_recv(control_fd, &reply) == 1 && reply.type == SYNC_DONE)
		return 0;
	monitor_diyc_gone(plan, control_fd);
	return 0;
}

void monitor_diyc_gone(const struct plan *plan, int control_fd)
{
	close(control_fd);
	let_go_of_stdio(); /* the hook must not write to a terminal its user may have closed */
	run_cleanup_hook(plan);
}
