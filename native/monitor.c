/*
 * The monitor: what the helper does once the container's command runs.
 *
 * It is the init's parent, so it is the one process that can wait(2) for it.
 * It forwards signals, keeps the log of a detached container, records the
 * exit status where the plan says, tells diyc, and if diyc is gone runs the
 * plan's cleanup hook (which is diyc again, with the container's name). It
 * holds no policy: the paths, the log's size bound and the hook come from
 * the plan.
 *
 * The log is a sequence of records, each "<o|e><length>\n<bytes>": stdout
 * and stderr stay apart and byte-exact, and src/runtime/logs.ts reads them.
 * When the file would pass its bound it is renamed to "<path>.1" (replacing
 * the previous one) and a new file is started.
 */
#define _GNU_SOURCE
#include "monitor.h"
#include "protocol.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t forward_to;
static volatile sig_atomic_t window_changed;

/*
 * Forward signals that a process sent (kill(2), sigqueue(3): si_code <= 0).
 * A signal the terminal generated (Ctrl-C: SI_KERNEL) already reached the
 * init, which is in the same foreground process group; sending it again
 * would deliver it twice.
 */
static void forward_signal(int sig, siginfo_t *info, void *context)
{
	(void)context;
	if (sig == SIGWINCH)
		window_changed = 1; /* the user's terminal was resized: the relay passes it on */
	else if (info->si_code <= 0 && forward_to > 0)
		kill(forward_to, sig);
}

static void install_forwarding(pid_t init)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_sigaction = forward_signal;
	action.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&action.sa_mask);
	forward_to = init;
	for (int sig = 1; sig < 32; sig++) {
		switch (sig) {
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

/* exit.json, written to a temporary file and renamed: readers never see half. */
static void write_exit_record(const char *path, int status)
{
	char tmp[4096], body[128];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int len = snprintf(body, sizeof(body), "{\"waitStatus\":%d,\"finishedAtMs\":%lld}\n", status, ms);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return; /* best effort: status is also derived from the dead pid */
	/* No fsync: after a power loss the status is derived again from pids anyway. */
	if (write(fd, body, (size_t)len) == len) {
		close(fd);
		rename(tmp, path);
		return;
	}
	close(fd);
	unlink(tmp);
}

static const struct plan_op *find(const struct plan *plan, uint16_t code)
{
	for (uint32_t i = 0; i < plan->count; i++)
		if (plan->ops[i].code == code)
			return &plan->ops[i];
	return NULL;
}

int log_pipes_open(struct log_pipes *log, int enabled)
{
	memset(log, 0, sizeof(*log));
	log->out[0] = log->out[1] = log->err[0] = log->err[1] = -1;
	log->enabled = enabled;
	if (!enabled)
		return 0;
	return pipe2(log->out, O_CLOEXEC) < 0 || pipe2(log->err, O_CLOEXEC) < 0 ? -1 : 0;
}

void log_pipes_close(const struct log_pipes *log)
{
	close(log->out[0]);
	close(log->out[1]);
	close(log->err[0]);
	close(log->err[1]);
}

void log_pipes_keep_read_ends(struct log_pipes *log)
{
	if (!log->enabled)
		return;
	close(log->out[1]);
	close(log->err[1]);
	log->out[1] = log->err[1] = -1;
}

struct log_file {
	const char *path;
	uint64_t max_bytes;
	uint64_t size;
	int fd;
};

static void log_file_open(struct log_file *lf)
{
	struct stat st;
	lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	lf->size = (lf->fd >= 0 && fstat(lf->fd, &st) == 0) ? (uint64_t)st.st_size : 0;
}

static void log_file_rotate(struct log_file *lf)
{
	char old[4096];
	if (snprintf(old, sizeof(old), "%s.1", lf->path) >= (int)sizeof(old))
		return;
	close(lf->fd);
	rename(lf->path, old); /* replaces the previous rotation: the bound is two files */
	log_file_open(lf);
}

static void log_record(struct log_file *lf, char stream, const char *data, size_t len)
{
	char header[32];
	int header_len = snprintf(header, sizeof(header), "%c%zu\n", stream, len);
	if (lf->size > 0 && lf->size + (uint64_t)header_len + len > lf->max_bytes)
		log_file_rotate(lf);
	if (lf->fd < 0)
		return; /* best effort: the container runs on even if its log cannot be written */
	struct iovec parts[2] = { { header, (size_t)header_len }, { (void *)data, len } };
	ssize_t n = writev(lf->fd, parts, 2);
	if (n > 0)
		lf->size += (uint64_t)n;
}

/*
 * Drains the init's stdout and stderr into the log until both pipes close.
 * They close when the init and everything it started have exited: the init
 * is pid 1 of its namespace, so its exit ends every process in it.
 */
static void drain_log(const struct plan *plan, const struct log_pipes *log)
{
	static char buffer[16384];
	struct log_file lf = { NULL, 0, 0, -1 };
	const struct plan_op *op = find(plan, OP_LOG);
	if (!op || !(lf.path = plan_str(op, 0)) || plan_u64(op, 1, &lf.max_bytes) < 0)
		return;
	log_file_open(&lf);
	struct pollfd fds[2] = { { log->out[0], POLLIN, 0 }, { log->err[0], POLLIN, 0 } };
	const char streams[2] = { 'o', 'e' };
	int open_pipes = 2;
	while (open_pipes > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue; /* a forwarded signal */
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
			if (n > 0) {
				log_record(&lf, streams[i], buffer, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_pipes--;
			}
		}
	}
	if (lf.fd >= 0)
		close(lf.fd);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void copy_window_size(int from, int to)
{
	struct winsize size;
	if (ioctl(from, TIOCGWINSZ, &size) == 0)
		ioctl(to, TIOCSWINSZ, &size);
}

/*
 * -t in the foreground: the user's terminal <-> the container's pty. In raw
 * mode every key (Ctrl-C too) goes to the container's terminal, whose line
 * discipline turns it into a signal for the container's foreground job.
 * Ends when the pty hangs up: every process holding its other end is gone.
 */
static void relay_terminal(int master, int raw)
{
	static char buffer[16384];
	struct termios saved;
	int restore = raw && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (restore) {
		struct termios rawmode = saved;
		cfmakeraw(&rawmode);
		tcsetattr(STDIN_FILENO, TCSANOW, &rawmode);
	}
	if (isatty(STDIN_FILENO))
		copy_window_size(STDIN_FILENO, master);
	struct pollfd fds[2] = { { STDIN_FILENO, POLLIN, 0 }, { master, POLLIN, 0 } };
	for (;;) {
		if (window_changed) {
			window_changed = 0;
			copy_window_size(STDIN_FILENO, master);
		}
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents) {
			ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
			if (n > 0) {
				write_all(master, buffer, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				/* Input ended: say so as a terminal would, with the EOF character. */
				char eof = 4;
				write_all(master, &eof, 1);
				fds[0].fd = -1;
			}
		}
		if (fds[1].revents) {
			ssize_t n = read(master, buffer, sizeof(buffer));
			if (n > 0)
				write_all(STDOUT_FILENO, buffer, (size_t)n);
			else if (n == 0 || errno != EINTR)
				break; /* EIO: the container's side of the pty is closed */
		}
	}
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
}

/* -dt: the pty's output is the container's stdout, kept in the log. */
static void log_terminal(const struct plan *plan, int master)
{
	static char buffer[16384];
	const struct plan_op *op = find(plan, OP_LOG);
	struct log_file lf = { NULL, 0, 0, -1 };
	if (!op || !(lf.path = plan_str(op, 0)) || plan_u64(op, 1, &lf.max_bytes) < 0)
		return;
	log_file_open(&lf);
	for (;;) {
		ssize_t n = read(master, buffer, sizeof(buffer));
		if (n > 0)
			log_record(&lf, 'o', buffer, (size_t)n);
		else if (n == 0 || errno != EINTR)
			break;
	}
	if (lf.fd >= 0)
		close(lf.fd);
}

static void run_cleanup_hook(const struct plan *plan)
{
	for (uint32_t i = 0; i < plan->count; i++) {
		if (plan->ops[i].code != OP_CLEANUP_HOOK)
			continue;
		char **argv = plan_list(&plan->ops[i], 0);
		if (!argv || !argv[0])
			return;
		/* The hook must not inherit our forwarding handlers' targets. */
		for (int sig = 1; sig < 32; sig++)
			signal(sig, SIG_DFL);
		execv(argv[0], argv);
		return; /* best effort: the next diyc command reconciles */
	}
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

int monitor_run(const struct plan *plan, pid_t init, int control_fd, const struct log_pipes *log, int terminal)
{
	if (find(plan, OP_DETACH))
		let_go_of_stdio();
	install_forwarding(init);
	if (terminal >= 0) {
		const struct plan_op *relay = find(plan, OP_RELAY_TERMINAL);
		uint64_t raw = 0;
		if (relay && plan_u64(relay, 0, &raw) == 0)
			relay_terminal(terminal, (int)raw);
		else
			log_terminal(plan, terminal);
		close(terminal);
	}
	if (log->enabled)
		drain_log(plan, log);
	int status = wait_for(init);
	forward_to = 0;

	for (uint32_t i = 0; i < plan->count; i++)
		if (plan->ops[i].code == OP_EXIT_RECORD)
			write_exit_record(plan_str(&plan->ops[i], 0), status);

	/* diyc is still there: it cleans up itself. Otherwise the hook does. */
	if (sync_send(control_fd, SYNC_EXIT, status, 0) == 0)
		return 0;
	close(control_fd);
	run_cleanup_hook(plan);
	return 0;
}
