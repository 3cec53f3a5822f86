/*
 * The floor of a start path without Bun (bench/start-latency.ts --floor).
 *
 * It does what `diyc run --rm NAME busybox /bin/true` does on the host, in
 * C and from data prepared in advance, as a `create` the helper could do
 * alone: the container's directory and files, the cgroup directories and
 * rules, the helper (native/build/diyc-helper) driven through the same
 * protocol as src/runtime/helper-channel.ts with a plan that diyc's
 * TypeScript compiled beforehand, the cgroup migration, the exit, and the
 * clean-up. It decides nothing: every path, value and step comes from the
 * script the bench writes (from a `diyc run -v` trace and diyc's own plan
 * compiler). What it leaves out, and diyc does: loading Bun and diyc's
 * code, compiling the plan, the container's lock and its JSON bookkeeping
 * beyond the files in the script.
 *
 *   c-floor HELPER SCRIPT        exit 0 when the container exited with 0
 *
 * SCRIPT, one step a line, TAB between fields, in the order they run:
 *   prime PATH       write our pid to this cgroup.procs on a thread, at once
 *                    (as diyc's primeCgroupMigration: the RCU wait off the path)
 *   plan PATH        the framed plan (u32 length + bytes) to send the helper
 *   mkdir PATH MODE  before the helper (octal mode; an existing one is fine)
 *   file PATH TEXT   before the helper (TEXT with \n and \t escaped)
 *   spawn            spawn the helper and send it the plan
 *   write PATH TEXT  a cgroup file, while the helper clones
 *   procs PATH       once the init's pid is known: write it there
 *   rmdir PATH       after the exit
 *   rmtree PATH      after the exit: remove the directory and what is in it
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* native/protocol.h: message types and the helper's control socket. */
enum { CONTINUE = 1, START = 2, DONE = 4, READY = 10, PID = 20, STARTED = 21, EXIT = 22, CONTROL_FD = 3 };

struct msg {
	uint32_t type;
	int32_t a, b, pad;
};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "c-floor: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

static void write_text(const char *path, const char *text, int flags)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		die("open", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		die("write", path);
	close(fd);
}

static void *prime(void *path)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, pid, strlen(pid)) < 0) { /* best effort, as diyc's */ }
		close(fd);
	}
	return NULL;
}

static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (*s == '\\' && (s[1] == 'n' || s[1] == 't' || s[1] == '\\')) {
			s++;
			*out++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : '\\';
		} else
			*out++ = *s;
	}
	*out = 0;
}

static void send_msg(int fd, uint32_t type)
{
	struct msg m = { type, 0, 0, 0 };
	if (write(fd, &m, sizeof(m)) != sizeof(m))
		die("send", "to the helper");
}

static struct msg expect(int fd, uint32_t type)
{
	struct msg m;
	size_t got = 0;
	while (got < sizeof(m)) {
		ssize_t n = read(fd, (char *)&m + got, sizeof(m) - got);
		if (n <= 0) {
			fprintf(stderr, "c-floor: the helper closed the socket, expecting %u\n", type);
			exit(1);
		}
		got += (size_t)n;
	}
	if (m.type != type) {
		fprintf(stderr, "c-floor: expected message %u, got %u (%d, %d)\n", type, m.type, m.a, m.b);
		exit(1);
	}
	return m;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		die("remove", path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: c-floor HELPER SCRIPT\n");
		return 2;
	}
	FILE *script = fopen(argv[2], "re");
	if (!script)
		die("open", argv[2]);
	char *line = NULL;
	size_t cap = 0;
	int control = -1;
	pid_t helper = -1;
	char *plan = NULL;
	size_t plan_len = 0;
	char pid_text[16] = "";
	pthread_t primer;
	int primed = 0;
	while (getline(&line, &cap, script) > 0) {
		line[strcspn(line, "\n")] = 0;
		/* strsep, not strtok: an empty field (an empty file's text) is a field. */
		char *rest = line, *op = strsep(&rest, "\t"), *a = strsep(&rest, "\t"), *b = strsep(&rest, "\t");
		if (!op || !*op)
			continue;
		if (!a)
			a = "";
		if (!b)
			b = "";
		if (!strcmp(op, "prime")) {
			primed = pthread_create(&primer, NULL, prime, strdup(a)) == 0;
		} else if (!strcmp(op, "plan")) {
			int fd = open(a, O_RDONLY | O_CLOEXEC);
			struct stat st;
			if (fd < 0 || fstat(fd, &st) < 0)
				die("open", a);
			plan_len = (size_t)st.st_size;
			plan = malloc(plan_len);
			if (!plan || read(fd, plan, plan_len) != (ssize_t)plan_len)
				die("read", a);
			close(fd);
		} else if (!strcmp(op, "mkdir")) {
			if (mkdir(a, (mode_t)strtol(b, NULL, 8)) < 0 && errno != EEXIST)
				die("mkdir", a);
		} else if (!strcmp(op, "file")) {
			unescape(b);
			write_text(a, b, O_CREAT | O_TRUNC);
		} else if (!strcmp(op, "spawn")) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
				die("socketpair", NULL);
			helper = fork();
			if (helper < 0)
				die("fork", NULL);
			if (helper == 0) {
				/* As diyc spawns it: the control socket on fd 3, an empty environment. */
				if (dup2(sv[1], CONTROL_FD) < 0)
					_exit(127);
				char *args[] = { "diyc-helper", NULL }, *env[] = { NULL };
				execve(argv[1], args, env);
				_exit(127);
			}
			close(sv[1]);
			control = sv[0];
			if (write(control, plan, plan_len) != (ssize_t)plan_len)
				die("send the plan to", argv[1]);
		} else if (!strcmp(op, "write")) {
			unescape(b);
			write_text(a, b, 0);
		} else if (!strcmp(op, "procs")) {
			if (!pid_text[0]) {
				struct msg m = expect(control, PID);
				snprintf(pid_text, sizeof(pid_text), "%d", m.a);
			}
			write_text(a, pid_text, 0);
		} else if (!strcmp(op, "rmdir") || !strcmp(op, "rmtree")) {
			if (control >= 0 && pid_text[0] && helper > 0) {
				/* First rmdir: the container has run. */
				send_msg(control, CONTINUE);
				expect(control, READY);
				send_msg(control, START);
				expect(control, STARTED);
				struct msg exit_msg = expect(control, EXIT);
				if (exit_msg.a != 0) {
					fprintf(stderr, "c-floor: the container exited with wait status %d\n", exit_msg.a);
					return 1;
				}
				pid_text[0] = 0;
			}
			if (!strcmp(op, "rmdir")) {
				/* diyc's parent directories stay while others use them, as here. */
				if (rmdir(a) < 0 && errno != EBUSY)
					die("rmdir", a);
			} else if (nftw(a, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
				die("remove", a);
		} else {
			fprintf(stderr, "c-floor: unknown step %s\n", op);
			return 2;
		}
	}
	if (control < 0)
		return 2;
	send_msg(control, DONE);
	int status;
	if (waitpid(helper, &status, 0) < 0)
		die("waitpid", "the helper");
	if (primed)
		pthread_join(primer, NULL);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
