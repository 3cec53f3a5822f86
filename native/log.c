/*
 * The log of a detached container (run -d), written by its monitor.
 *
 * It is a sequence of records, each "<o|e><length>@<ms>\n<bytes>": stdout and
 * stderr stay apart and byte-exact, each read stamped with the time it
 * arrived (milliseconds since the epoch, for `logs -t` and `--since`), and
 * src/runtime/logs.ts reads them.
 * When the file would pass its bound (the plan's OP_LOG) it is renamed to
 * "<path>.1", replacing the previous one, and a new file is started.
 */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

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

static void log_file_open(struct log_file *lf)
{
	struct stat st;
	lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	lf->size = (lf->fd >= 0 && fstat(lf->fd, &st) == 0) ? (uint64_t)st.st_size : 0;
}

/* Opens the log the plan names (OP_LOG: path, size bound, tee). 0, or -1 without one. */
int log_file_from_plan(const struct plan *plan, struct log_file *lf)
{
	const struct plan_op *op = plan_find(plan, OP_LOG);
	uint64_t tee = 0;
	lf->fd = -1;
	if (!op || !(lf->path = plan_str(op, ARG_LOG_PATH)) || plan_u64(op, ARG_LOG_MAX_BYTES, &lf->max_bytes) < 0)
		return -1;
	if (op->argc > ARG_LOG_TEE && plan_u64(op, ARG_LOG_TEE, &tee) < 0)
		return -1;
	lf->tee = tee != 0;
	log_file_open(lf);
	return 0;
}

void log_file_close(struct log_file *lf)
{
	if (lf->fd >= 0)
		close(lf->fd);
	lf->fd = -1;
}

/* Writes all of data, going on after EINTR. 0, or -1 once a write fails. */
int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* a write of nothing sets no errno */
		data += n;
		len -= (size_t)n;
	}
	return 0;
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

void log_record(struct log_file *lf, char stream, const char *data, size_t len)
{
	char header[64];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int header_len = snprintf(header, sizeof(header), "%c%zu@%lld\n", stream, len, ms);
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
void log_drain(const struct plan *plan, const struct log_pipes *log)
{
	static char buffer[16384];
	struct log_file lf = { NULL, 0, 0, -1, 0 };
	if (log_file_from_plan(plan, &lf) < 0)
		return;
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
				/* Best effort: a reader that went away (`diyc run ... | head -1`) must not stop the container or its log. */
				if (lf.tee)
					(void)write_all(i == 0 ? STDOUT_FILENO : STDERR_FILENO, buffer, (size_t)n);
				log_record(&lf, streams[i], buffer, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_pipes--;
			}
		}
	}
	log_file_close(&lf);
}

/* -dt: the pty's output is the container's stdout, kept in the log. */
void log_drain_terminal(const struct plan *plan, int master)
{
	static char buffer[16384];
	struct log_file lf = { NULL, 0, 0, -1, 0 };
	if (log_file_from_plan(plan, &lf) < 0)
		return;
	for (;;) {
		ssize_t n = read(master, buffer, sizeof(buffer));
		if (n > 0)
			log_record(&lf, 'o', buffer, (size_t)n);
		else if (n == 0 || errno != EINTR)
			break;
	}
	log_file_close(&lf);
}
