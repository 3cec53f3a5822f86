/*
 * diyc's front door (build/diyc-front, what bin/diyc runs): a `diyc run`
 * replayed from a recipe without starting Bun, or else diyc itself.
 *
 * src/runtime/prepared.ts has the why and docs/start-path.md the format. In
 * short: the recipe is a list of host steps that diyc's TypeScript recorded
 * while it did them, under the exact inputs of this process (its command
 * line, environment, working directory, ids, terminals and capabilities).
 * This program decides nothing: it finds the recipe of its inputs, checks
 * the conditions the recipe lists, and does the steps, filling in only the
 * run's own numbers (times, pids). Whenever something is not as recorded
 * before the command has started, it undoes what it did and execs diyc
 * (build/diyc) with DIYC_PREPARE=PATH, which runs the command the slow way,
 * says what went wrong if anything did, and records a fresh recipe. After the
 * start, anything unexpected is handed to `diyc _finish`, as diyc-wait does.
 *
 *   diyc-front ARGS...      exactly as diyc ARGS... (bin/diyc is a symlink to it)
 */
#define _GNU_SOURCE
#include "forward.h"
#include "sync.h"
#include <dirent.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORMAT "diyc-prepared 1"
#define PREPARE_VARIABLE "DIYC_PREPARE"
#define DEFAULT_ROOT "/var/lib/diyc"
#define MAX_FIELDS 64
#define MAX_UNDO 64
#define MAX_LOCKS 4
/* diyc's exit code for its own errors (src/linux/errors.ts ExitCode.RuntimeError). */
#define RUNTIME_ERROR 125
/* The helper's fds, as src/runtime/helper-channel.ts passes them. */
#define CONTROL_FD 3
#define HELPER_IMAGE_FD 4

/* native/build/diyc-helper, embedded by front-helper.S: executed from a sealed memfd as diyc does. */
extern const char diyc_helper_start[], diyc_helper_end[];

extern char **environ;

static char **args;
static char recipe_path[PATH_MAX];

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static char *read_all(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf)
			break;
		if (n == cap) {
			char *bigger = realloc(buf, (cap *= 2) + 1);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (buf) {
		buf[n] = 0;
		*len = n;
	}
	return buf;
}

static int write_all_fd(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A growable byte buffer. */
struct buf {
	char *data;
	size_t len, cap;
};

static void put(struct buf *b, const char *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->len + len + 1 > cap)
			cap *= 2;
		char *bigger = realloc(b->data, cap);
		if (!bigger) {
			fprintf(stderr, "diyc: out of memory\n");
			exit(RUNTIME_ERROR);
		}
		b->data = bigger;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
}

static void puts_buf(struct buf *b, const char *text)
{
	put(b, text, strlen(text));
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fields' escapes (src/runtime/prepared.ts escapeField): \\ \t \n \$ \0. Returns the length. */
static size_t unescape(char *s)
{
	char *out = s, *start = s;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*out++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == '0' ? '\0' : *s;
		} else
			*out++ = *s;
	}
	*out = 0;
	return (size_t)(out - start);
}

/* ------------------------------------------------------------------ */
/* The inputs: what a recipe is keyed by (cli/prepared.ts inputsOf).   */

static int in_terminal_foreground(void)
{
	int tty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (tty < 0)
		return 0;
	pid_t group = 0;
	int yes = ioctl(tty, TIOCGPGRP, &group) == 0 && group == getpgrp();
	close(tty);
	return yes;
}

static int read_inputs(struct buf *in)
{
	size_t len;
	char *cmdline = read_all("/proc/self/cmdline", &len);
	if (!cmdline)
		return -1;
	puts_buf(in, "argv ");
	put(in, cmdline, len);
	free(cmdline);
	char cwd[PATH_MAX], line[256];
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	puts_buf(in, "\ncwd ");
	puts_buf(in, cwd);
	snprintf(line, sizeof(line), "\nids %u,%u,%u,%u\ntty %d%d%d\nfg %d\n", getuid(), geteuid(), getgid(), getegid(),
		 isatty(0), isatty(1), isatty(2), in_terminal_foreground());
	puts_buf(in, line);
	char *status = read_all("/proc/self/status", &len);
	if (!status)
		return -1;
	int first = 1;
	for (char *l = strtok(status, "\n"); l; l = strtok(NULL, "\n")) {
		if (strncmp(l, "Cap", 3) != 0 && strncmp(l, "Cpus_allowed_list:", 18) != 0)
			continue;
		if (!first)
			puts_buf(in, "\n");
		puts_buf(in, l);
		first = 0;
	}
	free(status);
	return 0;
}

/* FNV-1a, 64 bits: only a file name; the recipe's own inputs line is compared in full. */
static uint64_t fnv1a(const char *data, size_t len)
{
	uint64_t hash = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		hash ^= (unsigned char)data[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/*
 * Where diyc would keep this command's store: --root DIR (or --root=DIR)
 * among the leading global options, else $DIYC_ROOT, else the default. Only
 * a guess, to find the recipe: diyc writes one only where its store really
 * is, and the recipe's inputs must be this process's exactly, so a wrong
 * guess is only a miss.
 */
static void guess_store(char *out, size_t size, int argc, char **argv)
{
	const char *root = getenv("DIYC_ROOT");
	for (int i = 1; i < argc;) {
		if (!strcmp(argv[i], "--root") && i + 1 < argc)
			root = argv[i + 1], i += 2;
		else if (!strncmp(argv[i], "--root=", 7))
			root = argv[i++] + 7;
		else if (!strcmp(argv[i], "--networks"))
			i += 2;
		else if (!strncmp(argv[i], "--networks=", 11))
			i++;
		else
			break;
	}
	if (!root || !*root)
		root = DEFAULT_ROOT;
	char cwd[PATH_MAX] = "";
	if (root[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	snprintf(out, size, "%s%s%s", root[0] == '/' ? "" : cwd, root[0] == '/' ? "" : "/", root);
	/* path.resolve drops trailing slashes: so does diyc's store root */
	size_t len = strlen(out);
	while (len > 1 && out[len - 1] == '/')
		out[--len] = 0;
}

/* ------------------------------------------------------------------ */
/* Handing over to diyc                                                  */

/* The directory this program is in (build/), resolved: bin/diyc is a symlink to it. */
static void own_dir(char *out, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", out, size - 1);
	out[n < 0 ? 0 : n] = 0;
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = 0;
}

/*
 * Runs diyc itself with our own argv: build/diyc, or with DIYC_FROM_SOURCE=1
 * (or no build/diyc) src/cli/diyc.ts under the checkout's Bun, for working on
 * the code without rebuilding. With `prepare`, asks it to record a recipe there.
 */
static void __attribute__((noreturn)) exec_diyc(const char *prepare)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], script[PATH_MAX + 32];
	own_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/diyc", dir);
	const char *from_source = getenv("DIYC_FROM_SOURCE");
	int argc = 0;
	while (args[argc])
		argc++;
	char **argv = calloc((size_t)argc + 2, sizeof(char *));
	size_t count = 0;
	while (environ[count])
		count++;
	char **env = calloc(count + 2, sizeof(char *));
	if (!argv || !env) {
		fprintf(stderr, "diyc: out of memory\n");
		exit(RUNTIME_ERROR);
	}
	memcpy(argv, args, (size_t)argc * sizeof(char *));
	if ((from_source && *from_source) || access(path, X_OK) < 0) {
		snprintf(path, sizeof(path), "%s/../node_modules/bun/bin/bun.exe", dir);
		snprintf(script, sizeof(script), "%s/../src/cli/diyc.ts", dir);
		memmove(argv + 2, argv + 1, (size_t)argc * sizeof(char *));
		argv[0] = path;
		argv[1] = script;
		prepare = NULL; /* diyc from source records nothing (cli/prepared.ts) */
	}
	memcpy(env, environ, count * sizeof(char *));
	char *entry = NULL;
	if (prepare && asprintf(&entry, "%s=%s", PREPARE_VARIABLE, prepare) > 0)
		env[count] = entry;
	signal(SIGPIPE, SIG_DFL); /* as we were started */
	execve(path, argv, env);
	fprintf(stderr, "diyc: cannot run %s: %s\n", path, strerror(errno));
	exit(RUNTIME_ERROR);
}

/* ------------------------------------------------------------------ */
/* The run's state, and what undoing it means                           */

enum undo_kind { UNDO_RMTREE, UNDO_RMDIR };
struct undo {
	enum undo_kind kind;
	char *path;
};
static struct undo undo_list[MAX_UNDO];
static int undo_count;

struct lock {
	char *path;
	/* A container's lock: its directory; gone at release means the lock file goes too (store/lock.ts). */
	char *dir;
	int fd;
};
static struct lock locks[MAX_LOCKS];

static int control = -1;
static pid_t helper = -1;
static pid_t init_pid;
static long long monitor_start, init_start, created_ms = -1, started_ms = -1;
static int started;
/* The command did not start: the exit code, once the clean-up steps are done (start_failed). */
static int start_failure;
/* After EXIT: the message, for _finish. */
static struct sync_msg exit_msg;
/* The wait began (from then on diyc _finish ends the run), and EXIT came. */
static int waited, exited;
/* The `finish` step's command: how to run diyc's _finish. */
static char **finish_command;
static int finish_len;

static void push_undo(enum undo_kind kind, const char *path)
{
	if (undo_count < MAX_UNDO)
		undo_list[undo_count++] = (struct undo){ kind, strdup(path) };
}

/*
 * Removes `name` in `dir` and, if it is a directory, everything in it, by
 * fds (openat, unlinkat): no path is resolved twice, no symlink followed,
 * and no depth limit but the fds it holds, one per level.
 */
static int remove_at(int dir, const char *name)
{
	if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *entries = fd < 0 ? NULL : fdopendir(fd);
	if (!entries) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int failed = 0;
	for (struct dirent *entry; (entry = readdir(entries));)
		if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
			failed = remove_at(fd, entry->d_name) < 0 || failed;
	closedir(entries);
	return failed || (unlinkat(dir, name, AT_REMOVEDIR) < 0 && errno != ENOENT) ? -1 : 0;
}

static int remove_tree(const char *path)
{
	return remove_at(AT_FDCWD, path);
}

struct subtrees {
	char **paths;
	int count, failed;
};

static void *remove_subtrees(void *arg)
{
	struct subtrees *subtrees = arg;
	for (int i = 0; i < subtrees->count; i++)
		if (remove_tree(subtrees->paths[i]) < 0)
			subtrees->failed = 1;
	return NULL;
}

/*
 * A container's directory: unlink and rmdir cost a quarter of a millisecond
 * each on ext4 here, a dozen and a half of them, so the subdirectories (the
 * overlay's upper and work) go on a second thread while this one unlinks the
 * files; `last` (the container's record) after every other, then the
 * directory itself. A removal cut short leaves a container diyc still knows.
 */
static int remove_tree_parallel(const char *path, const char *last)
{
	DIR *dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -1;
	char *files[64], *dirs[64];
	int file_count = 0, dir_count = 0, failed = 0;
	for (struct dirent *entry; (entry = readdir(dir));) {
		if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
			continue;
		char *full;
		if (asprintf(&full, "%s/%s", path, entry->d_name) < 0)
			return -1;
		if (!strcmp(entry->d_name, last))
			free(full); /* below, once the rest is gone */
		else if (entry->d_type == DT_DIR && dir_count < 64)
			dirs[dir_count++] = full;
		else if (entry->d_type != DT_DIR && file_count < 64)
			files[file_count++] = full;
		else
			failed = remove_tree(full) < 0 || failed; /* more than expected: here, in order */
	}
	closedir(dir);
	struct subtrees subtrees = { dirs, dir_count, 0 };
	pthread_t thread;
	int threaded = pthread_create(&thread, NULL, remove_subtrees, &subtrees) == 0;
	if (!threaded)
		remove_subtrees(&subtrees);
	for (int i = 0; i < file_count; i++) /* remove_tree, not unlink: a file system without d_type says DT_UNKNOWN */
		if (remove_tree(files[i]) < 0)
			failed = 1;
	if (threaded)
		pthread_join(thread, NULL);
	if (failed || subtrees.failed)
		return -1;
	char record[PATH_MAX];
	snprintf(record, sizeof(record), "%s/%s", path, last);
	return (unlink(record) < 0 && errno != ENOENT) || (rmdir(path) < 0 && errno != ENOENT) ? -1 : 0;
}

/* rmdir of a cgroup whose last process may still be leaving (removeCgroupDir): EBUSY for up to 2 s. */
static int remove_cgroup(const char *path)
{
	for (int tries = 0; tries < 100; tries++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -1;
		usleep(20000);
	}
	return -1;
}

static void release_lock(struct lock *lock)
{
	if (!lock->path || lock->fd < 0) /* an unused slot (fd 0 in a static array: not ours to close) */
		return;
	struct stat st;
	if (lock->dir && stat(lock->dir, &st) < 0 && errno == ENOENT)
		unlink(lock->path);
	flock(lock->fd, LOCK_UN);
	close(lock->fd);
	lock->fd = -1;
}

/* Puts everything back as it was: the helper told to ABORT (it kills the init), what was made removed, the locks released. */
static void undo(void)
{
	if (helper > 0) {
		/* ABORT: the helper kills the init and exits, without the cleanup hook. */
		sync_send(control, SYNC_ABORT, 0, 0);
		int status;
		while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = undo_count - 1; i >= 0; i--) {
		if (undo_list[i].kind == UNDO_RMTREE)
			remove_tree(undo_list[i].path);
		else
			remove_cgroup(undo_list[i].path);
	}
	for (int i = MAX_LOCKS - 1; i >= 0; i--)
		release_lock(&locks[i]);
}

/* Before the start: put everything back as it was, and let diyc do the run. */
static void __attribute__((noreturn)) miss(void)
{
	undo();
	exec_diyc(recipe_path);
}

/* After the start: diyc's `_finish NAME FD HELPER TYPE A B` ends the run (the OOM line, any error). */
static void __attribute__((noreturn)) finish_in_diyc(void)
{
	for (int i = MAX_LOCKS - 1; i >= 0; i--)
		release_lock(&locks[i]);
	char numbers[5][16];
	char **argv = calloc((size_t)finish_len + 6, sizeof(char *));
	if (!argv || !finish_command) {
		fprintf(stderr, "diyc: cannot finish the run\n");
		exit(RUNTIME_ERROR);
	}
	memcpy(argv, finish_command, (size_t)finish_len * sizeof(char *));
	snprintf(numbers[0], 16, "%d", control);
	snprintf(numbers[1], 16, "%d", (int)helper);
	snprintf(numbers[2], 16, "%u", exited ? exit_msg.type : 0);
	snprintf(numbers[3], 16, "%d", exited ? exit_msg.a : 0);
	snprintf(numbers[4], 16, "%d", exited ? exit_msg.b : 0);
	for (int i = 0; i < 5; i++)
		argv[finish_len + i] = numbers[i];
	int flags = fcntl(control, F_GETFD);
	fcntl(control, F_SETFD, flags & ~FD_CLOEXEC);
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], argv);
	/* The socket closes as we exit: the monitor, still waiting for DONE, runs the cleanup hook. */
	fprintf(stderr, "diyc: cannot run %s again to finish the run: %s\n", argv[0], strerror(errno));
	exit(RUNTIME_ERROR);
}

/*
 * A step went wrong. Before the start, diyc does the run. Between the start
 * and the wait (the state's start time), diyc would stop there with an
 * error, and the container runs on, cleaned up by its monitor's hook when it
 * exits: so do we. Once the wait began, diyc _finish ends the run (with the
 * monitor's message, or none if it died).
 */
static void __attribute__((noreturn)) fail(char **fields, int n)
{
	if (!started)
		miss();
	if (waited)
		finish_in_diyc();
	fprintf(stderr, "diyc: %s %s: %s\n", fields[0], n > 1 ? fields[1] : "", strerror(errno));
	exit(RUNTIME_ERROR);
}

/* ------------------------------------------------------------------ */
/* Steps                                                                 */

static long long field_number(const char *text)
{
	char *end;
	errno = 0;
	long long value = strtoll(text, &end, 10);
	return errno || end == text || *end ? -1 : value;
}

/* The start time of a process (field 22 of /proc/PID/stat), as process-identity.ts reads it; -1 if gone. */
static long long start_time(pid_t pid)
{
	char path[64];
	size_t len;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	char *stat = read_all(path, &len);
	if (!stat)
		return -1;
	char *p = strrchr(stat, ')');
	long long value = -1;
	if (p) {
		p += 2; /* field 3 */
		for (int field = 3; field < 22 && p; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p)
			value = strtoll(p, NULL, 10);
	}
	free(stat);
	return value;
}

/* A placeholder's value: this run's numbers. */
static int placeholder(const char *name, size_t len, long long *value)
{
	static const struct {
		const char *name;
		long long *value;
	} names[] = {
		{ "created", &created_ms }, { "started", &started_ms }, { "monitor.start", &monitor_start },
		{ "init.start", &init_start },
	};
	if (len == 3 && !strncmp(name, "now", 3))
		*value = now_ms();
	else if (len == 11 && !strncmp(name, "monitor.pid", 11))
		*value = helper;
	else if (len == 8 && !strncmp(name, "init.pid", 8))
		*value = init_pid;
	else {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && !strncmp(name, names[i].name, len)) {
				*value = *names[i].value;
				return 0;
			}
		return -1;
	}
	return 0;
}

/*
 * A template field, still escaped (prepared.ts escapeField): escapes and
 * placeholders are read in one pass, so that an escaped "\$" of the run's own
 * text (a command line's ${HOME}) stays text and only a bare "${name}" is a number.
 */
static int fill_template(const char *text, struct buf *out)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == '0' ? '\0' : *p;
			put(out, &c, 1);
		} else if (*p == '$' && p[1] == '{') {
			const char *close = strchr(p, '}');
			long long value;
			if (!close || placeholder(p + 2, (size_t)(close - p - 2), &value) < 0)
				return errno = EINVAL, -1;
			char number[32];
			snprintf(number, sizeof(number), "%lld", value);
			puts_buf(out, number);
			p = close;
		} else
			put(out, p, 1);
	}
	return 0;
}

static int write_file(const char *path, const char *text, size_t len, int flags, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | flags, mode);
	if (fd < 0)
		return -1;
	int result = write_all_fd(fd, text, len), saved = errno;
	close(fd);
	errno = saved;
	return result;
}

/* Node's writeFileSync and writeFileAtomic (store/atomic.ts): PATH.tmp-PID, then rename. */
static int write_atomic(const char *path, mode_t mode, const char *text)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
	if (write_file(tmp, text, strlen(text), O_CREAT | O_TRUNC, mode) < 0 || rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

static int lines_of_types(const char *types, struct buf *out)
{
	size_t len;
	char *mountinfo = read_all("/proc/self/mountinfo", &len);
	if (!mountinfo)
		return -1;
	char *save = NULL;
	for (char *line = strtok_r(mountinfo, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		const char *type = sep + 3;
		size_t type_len = strcspn(type, " ");
		/* Is it one of TYPES, a comma-separated list? */
		for (const char *t = types; *t;) {
			size_t n = strcspn(t, ",");
			if (n == type_len && !strncmp(t, type, n)) {
				puts_buf(out, line);
				puts_buf(out, "\n");
				break;
			}
			t += n + (t[n] == ',');
		}
	}
	free(mountinfo);
	return 0;
}

static void *prime(void *path)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	write_file(path, pid, strlen(pid), 0, 0);
	return NULL;
}

static int take_lock(const char *path, const char *dir, int operation)
{
	for (int i = 0; i < MAX_LOCKS; i++) {
		if (locks[i].path && locks[i].fd >= 0)
			continue;
		for (;;) {
			int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
			if (fd < 0)
				return -1;
			while (flock(fd, operation) < 0) {
				if (errno != EINTR) {
					close(fd);
					return -1;
				}
			}
			/* The file may have been unlinked by its last holder while we waited (store/lock.ts). */
			struct stat held, current;
			if (fstat(fd, &held) == 0 && stat(path, &current) == 0 && held.st_ino == current.st_ino &&
			    held.st_dev == current.st_dev) {
				locks[i] = (struct lock){ strdup(path), dir ? strdup(dir) : NULL, fd };
				return 0;
			}
			close(fd);
		}
	}
	return -1;
}

static struct lock *held_lock(const char *path)
{
	for (int i = 0; i < MAX_LOCKS; i++)
		if (locks[i].path && locks[i].fd >= 0 && !strcmp(locks[i].path, path))
			return &locks[i];
	return NULL;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* `len` bytes from 2 × len hex digits; 0 if one is not a digit. By hand: sscanf per byte cost 1.5 ms for a plan. */
static int decode_hex(const char *hex, char *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int high = hex_digit(hex[2 * i]), low = hex_digit(hex[2 * i + 1]);
		if (high < 0 || low < 0)
			return 0;
		out[i] = (char)(high << 4 | low);
	}
	return 1;
}

/* "inherit" or "null", for each of fds 0, 1 and 2 (a detached container's monitor holds no terminal). */
static int spawn_helper(char **stdio, const char *plan_hex)
{
	size_t hex_len = strlen(plan_hex), plan_len = hex_len / 2;
	char *plan = malloc(plan_len + 1);
	if (!plan || hex_len % 2)
		return -1;
	if (!decode_hex(plan_hex, plan, plan_len))
		return -1;
	/* The helper from a sealed memfd, never from a file a container could reach (helper-channel.ts). */
	int image = memfd_create("diyc-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t size = (size_t)(diyc_helper_end - diyc_helper_start);
	if (image < 0 || write_all_fd(image, diyc_helper_start, size) < 0 ||
	    fcntl(image, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		return -1;
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return -1;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return -1;
	helper = fork();
	if (helper < 0)
		return -1;
	if (helper == 0) {
		/*
		 * As diyc spawns it: fds 0-2 ours or /dev/null, the socket on 3, its image on 4, no
		 * environment. Both are moved above 4 first: either may be 3 or 4 itself now.
		 */
		int socket_fd = fcntl(pair[1], F_DUPFD_CLOEXEC, 10), image_fd = fcntl(image, F_DUPFD_CLOEXEC, 10);
		if (socket_fd < 0 || image_fd < 0)
			_exit(127);
		for (int fd = 0; fd < 3; fd++)
			if (strcmp(stdio[fd], "null") == 0 && dup2(null, fd) < 0)
				_exit(127);
		if (dup2(socket_fd, CONTROL_FD) < 0 || dup2(image_fd, HELPER_IMAGE_FD) < 0)
			_exit(127);
		/*
		 * Nothing of ours or of our caller's is passed on: no blocked signal, every disposition
		 * the default (as Bun spawns it: a caller that ignores SIGCHLD would make the monitor's
		 * waitpid fail), SIGPIPE no longer ignored (main).
		 */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		char *argv[] = { "diyc-helper", NULL }, *env[] = { NULL };
		execve("/proc/self/fd/4", argv, env);
		_exit(127);
	}
	close(pair[1]);
	close(image);
	close(null);
	control = pair[0];
	int result = write_all_fd(control, plan, plan_len);
	free(plan);
	return result;
}

static int expect(uint32_t type, struct sync_msg *msg)
{
	struct sync_msg got;
	int received = sync_recv(control, &got);
	if (received != 1 || got.type != type) {
		errno = received < 0 ? -received : EPROTO; /* EOF, or another message (an error the helper reports) */
		return -1;
	}
	if (msg)
		*msg = got;
	return 0;
}

/* Whether `word` is one of the space-separated words of `text`. */
static int has_word(const char *text, const char *word, size_t len)
{
	for (const char *p = text; *p;) {
		p += strspn(p, " \t\n");
		size_t n = strcspn(p, " \t\n");
		if (n == len && !strncmp(p, word, len))
			return 1;
		p += n;
	}
	return 0;
}

/* cgroups/fs.ts enableControllersWith: "+name" for each of WANTED that DIR offers and has not enabled. */
static int enable_controllers(const char *dir, const char *wanted)
{
	char path[PATH_MAX];
	size_t len;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	char *available = read_all(path, &len);
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	char *enabled = read_all(path, &len);
	struct buf missing = { 0 };
	int result = available && enabled ? 0 : -1;
	for (const char *w = wanted; result == 0 && *w;) {
		w += strspn(w, " ");
		size_t n = strcspn(w, " ");
		if (n > 0 && has_word(available, w, n) && !has_word(enabled, w, n)) {
			if (missing.len > 0)
				puts_buf(&missing, " ");
			puts_buf(&missing, "+");
			put(&missing, w, n);
		}
		w += n;
	}
	if (result == 0 && missing.len > 0)
		result = write_file(path, missing.data, missing.len, O_TRUNC, 0);
	free(available);
	free(enabled);
	free(missing.data);
	return result;
}

/*
 * linux/bpf.ts: the device program (struct bpf_insn[], given in hex) loaded
 * as BPF_PROG_TYPE_CGROUP_DEVICE and attached to DIR with BPF_F_ALLOW_MULTI.
 */
static int attach_device_program(const char *dir, const char *hex)
{
	size_t len = strlen(hex) / 2;
	unsigned char *insns = malloc(len ? len : 1);
	if (!insns || !decode_hex(hex, (char *)insns, len))
		return free(insns), errno = EINVAL, -1;
	static const char license[] = "MIT";
	union bpf_attr load;
	memset(&load, 0, sizeof(load));
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insn_cnt = (uint32_t)(len / 8);
	load.insns = (uint64_t)(uintptr_t)insns;
	load.license = (uint64_t)(uintptr_t)license;
	int program = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	free(insns);
	if (program < 0)
		return -1;
	int cgroup = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	union bpf_attr attach;
	memset(&attach, 0, sizeof(attach));
	attach.target_fd = (uint32_t)cgroup;
	attach.attach_bpf_fd = (uint32_t)program;
	attach.attach_type = BPF_CGROUP_DEVICE;
	attach.attach_flags = BPF_F_ALLOW_MULTI;
	int result = cgroup < 0 ? -1 : (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach));
	int saved = errno;
	if (cgroup >= 0)
		close(cgroup);
	close(program);
	errno = saved;
	return result < 0 ? -1 : 0;
}

/* The keyed count in a cgroup file ("oom_kill N"); 0 when absent. */
static long long keyed(const char *path, const char *key)
{
	size_t len, key_len = strlen(key);
	char *text = read_all(path, &len);
	if (!text)
		return -1;
	long long value = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, key, key_len) && line[key_len] == ' ')
			value = strtoll(line + key_len + 1, NULL, 10);
	free(text);
	return value;
}

static int exit_code(int status)
{
	int signal = status & 0x7f;
	return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
}

/* Waits for the monitor's EXIT, passing signals on to the init as diyc would. */
static int wait_for_exit(char **f, int n)
{
	struct forward_policy policy = { .note = NULL };
	sigemptyset(&policy.forwarded);
	sigemptyset(&policy.caught);
	if (n != 4 || parse_signals(f[1], &policy.forwarded) < 0 || parse_signals(f[1], &policy.caught) < 0 ||
	    parse_signals(f[2], &policy.caught) < 0 || parse_count(f[3], &policy) < 0)
		return -1;
	forward_signals(init_pid, &policy);
	waited = 1;
	int got = sync_recv(control, &exit_msg);
	/* As diyc removes its handlers once the wait is over: the init is gone, its pid may be another's. */
	for (int sig = 1; sig < 32; sig++)
		if (sigismember(&policy.caught, sig) == 1)
			signal(sig, SIG_DFL);
	if (got != 1 || exit_msg.type != SYNC_EXIT)
		return -1;
	exited = 1;
	return 0;
}

/* An octal mode; a field that is not one makes the step fail (never 07777 by accident). */
static int mode_of(const char *text, mode_t *mode)
{
	char *end;
	long value = strtol(text, &end, 8);
	if (*end || end == text || value < 0 || value > 07777)
		return errno = EINVAL, -1;
	*mode = (mode_t)value;
	return 0;
}

/*
 * The command did not start (its exec failed): as diyc does (run.ts
 * startContainer, helper-channel.ts failure), ABORT, one line, and the
 * clean-up of a run that ended; the steps after the start that only a
 * started run has (its state, the wait, a detached run's name) are skipped.
 * Exit 127 for "not found", 126 for "cannot run" (the shells'), as diyc
 * says of an exec; the op is not known here, so any other step's failure
 * after the start is 126 too.
 */
static void start_failed(const struct sync_msg *msg)
{
	int error = msg->type == SYNC_ERROR ? msg->b : 0;
	sync_send(control, SYNC_ABORT, 0, 0);
	int status;
	while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
		;
	helper = -1;
	if (error)
		fprintf(stderr, "diyc: exec the command: %s\n", strerror(error));
	else
		fprintf(stderr, "diyc: start the command: the helper ended before it started it\n");
	start_failure = error == ENOENT || error == ENOTDIR ? 127 : error ? 126 : RUNTIME_ERROR;
}

/*
 * The steps (docs/start-path.md has the table). Each returns 0, or -1 with
 * errno when it did not go as recorded; `f` holds the step's fields, f[0]
 * its name, and `mode` an octal field already read (ops with MODE_FIELD).
 */

/* Checks: the recipe holds only while these are as recorded. */

static int op_stat(char **f, mode_t mode)
{
	(void)mode;
	struct stat st;
	if (stat(f[1], &st) < 0 || (long long)st.st_dev != field_number(f[2]) || (long long)st.st_ino != field_number(f[3]))
		return -1;
	if (strcmp(f[4], "-") && (long long)st.st_size != field_number(f[4]))
		return -1;
	long long mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	return strcmp(f[5], "-") && mtime != field_number(f[5]) ? -1 : 0;
}

static int op_env(char **f, mode_t mode)
{
	(void)mode;
	const char *value = getenv(f[1]);
	return value && !strcmp(value, f[2]) ? 0 : -1;
}

static int op_unset(char **f, mode_t mode)
{
	(void)mode;
	return getenv(f[1]) ? -1 : 0;
}

static int op_absent(char **f, mode_t mode)
{
	(void)mode;
	struct stat st;
	return stat(f[1], &st) < 0 && errno == ENOENT ? 0 : -1; /* as existsSync: a dangling symlink is absent */
}

static int op_same(char **f, mode_t mode)
{
	(void)mode;
	size_t len;
	char *text = read_all(f[1], &len);
	int same = text && !strcmp(text, f[2]);
	free(text);
	return same ? 0 : -1;
}

static int op_mounts(char **f, mode_t mode)
{
	(void)mode;
	struct buf lines = { 0 };
	int same = lines_of_types(f[1], &lines) == 0 && !strcmp(lines.data ? lines.data : "", f[2]);
	free(lines.data);
	return same ? 0 : -1;
}

/* The store, the locks, the container's directory and files. */

static int op_finish(char **f, mode_t mode)
{
	(void)mode;
	/* The words live in the recipe's buffer until we exit or exec; the array of them is the loop's. */
	int n = 0;
	while (f[n + 1])
		n++;
	finish_command = calloc((size_t)n + 1, sizeof(char *));
	if (!finish_command)
		return -1;
	memcpy(finish_command, f + 1, (size_t)n * sizeof(char *));
	finish_len = n;
	return 0;
}

static int op_prime(char **f, mode_t mode)
{
	(void)mode;
	pthread_t thread;
	if (pthread_create(&thread, NULL, prime, strdup(f[1])) == 0)
		pthread_detach(thread);
	return 0; /* best effort, as diyc's */
}

static int op_ensure(char **f, mode_t mode)
{
	return mkdir(f[1], mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int op_lock(char **f, mode_t mode)
{
	(void)mode;
	return take_lock(f[1], f[2], LOCK_EX);
}

static int op_shared_lock(char **f, mode_t mode)
{
	(void)mode;
	return take_lock(f[1], NULL, LOCK_SH);
}

static int op_unlock(char **f, mode_t mode)
{
	(void)mode;
	struct lock *lock = held_lock(f[1]);
	if (!lock)
		return errno = ENOLCK, -1;
	release_lock(lock);
	return 0;
}

static int op_claim(char **f, mode_t mode)
{
	if (mkdir(f[1], mode) < 0)
		return -1; /* EEXIST: a container of that name; diyc says what to do */
	push_undo(UNDO_RMTREE, f[1]);
	return 0;
}

static int op_mkdir(char **f, mode_t mode)
{
	return mkdir(f[1], mode);
}

static int op_file(char **f, mode_t mode)
{
	return write_file(f[1], f[3], strlen(f[3]), O_CREAT | O_TRUNC, mode);
}

static int op_chmod(char **f, mode_t mode)
{
	return chmod(f[1], mode);
}

static int op_atomic(char **f, mode_t mode)
{
	struct buf text = { 0 };
	int result = fill_template(f[3], &text) == 0 ? write_atomic(f[1], mode, text.data ? text.data : "") : -1;
	free(text.data);
	return result;
}

static int op_rm(char **f, mode_t mode)
{
	(void)mode;
	return unlink(f[1]) < 0 && errno != ENOENT ? -1 : 0;
}

/* The helper, the cgroups, the start. */

static int op_spawn(char **f, mode_t mode)
{
	(void)mode;
	return spawn_helper(f + 1, f[4]);
}

static int op_cg_ensure(char **f, mode_t mode)
{
	(void)mode;
	return mkdir(f[1], 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int op_cg_mkdir(char **f, mode_t mode)
{
	(void)mode;
	if (mkdir(f[1], 0755) < 0)
		return -1;
	push_undo(UNDO_RMDIR, f[1]);
	return 0;
}

/* cgroups/fs.ts copyIfEmptyWith: PATH's value, when it has none, from FROM. */
static int op_cg_fill(char **f, mode_t mode)
{
	(void)mode;
	size_t len;
	char *current = read_all(f[1], &len);
	if (!current)
		return -1;
	int empty = strspn(current, " \t\n") == len;
	free(current);
	if (!empty)
		return 0;
	char *from = read_all(f[2], &len);
	if (!from)
		return -1;
	while (len > 0 && strchr(" \t\n", from[len - 1]))
		len--;
	size_t skip = strspn(from, " \t\n");
	int result = write_file(f[1], from + skip, len - skip, O_TRUNC, 0);
	free(from);
	return result;
}

static int op_cg_enable(char **f, mode_t mode)
{
	(void)mode;
	return enable_controllers(f[1], f[2]);
}

static int op_cg_bpf(char **f, mode_t mode)
{
	(void)mode;
	return attach_device_program(f[1], f[2]);
}

static int op_cg_write(char **f, mode_t mode)
{
	(void)mode;
	return write_file(f[1], f[2], strlen(f[2]), O_TRUNC, 0);
}

static int op_pid(char **f, mode_t mode)
{
	(void)f;
	(void)mode;
	struct sync_msg msg;
	if (expect(SYNC_PID, &msg) < 0)
		return -1;
	init_pid = msg.a;
	created_ms = now_ms(); /* the state's creation, as run.ts takes it once the pid came */
	monitor_start = start_time(helper);
	init_start = start_time(init_pid);
	return monitor_start < 0 || init_start < 0 ? (errno = ESRCH, -1) : 0;
}

static int op_cg_procs(char **f, mode_t mode)
{
	(void)mode;
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)init_pid);
	return write_file(f[1], pid, strlen(pid), O_TRUNC, 0);
}

static int op_continue(char **f, mode_t mode)
{
	(void)f;
	(void)mode;
	return sync_send(control, SYNC_CONTINUE, 0, 0) < 0 ? -1 : expect(SYNC_READY, NULL);
}

static int op_start(char **f, mode_t mode)
{
	(void)f;
	(void)mode;
	/* Taken before START, as runtime/run.ts startContainer does. */
	started_ms = now_ms();
	if (sync_send(control, SYNC_START, 0, 0) < 0)
		return -1;
	/* From here the command may have run: whatever happens, diyc must not run it again (fail). */
	started = 1;
	struct sync_msg msg = { 0, 0, 0, 0 };
	if (sync_recv(control, &msg) != 1 || msg.type != SYNC_STARTED)
		start_failed(&msg);
	return 0;
}

static int op_wait(char **f, mode_t mode)
{
	(void)mode;
	return wait_for_exit(f, 4);
}

/* After the exit: the end of the run. */

static int op_oom(char **f, mode_t mode)
{
	(void)mode;
	/* The OOM killer struck (or there is no count to read): diyc _finish says so. */
	return keyed(f[1], f[2]) == 0 ? 0 : (errno = ENOMEM, -1);
}

static int op_cg_rmdir(char **f, mode_t mode)
{
	(void)mode;
	return remove_cgroup(f[1]);
}

static int op_cg_rmdir_shared(char **f, mode_t mode)
{
	(void)mode;
	rmdir(f[1]); /* best effort: other containers of this store may still be in it */
	return 0;
}

static int op_rmtree(char **f, mode_t mode)
{
	(void)mode;
	return remove_tree_parallel(f[1], f[2]);
}

static int op_detach(char **f, mode_t mode)
{
	(void)f;
	(void)mode;
	/* The monitor carries on alone: its EXIT will find nobody, and it runs the cleanup hook. */
	close(control);
	control = -1;
	return 0;
}

static int op_print(char **f, mode_t mode)
{
	(void)mode;
	(void)write_all_fd(STDOUT_FILENO, f[1], strlen(f[1])); /* best effort, as diyc's print */
	return 0;
}

static int op_exit(char **f, mode_t mode)
{
	(void)mode;
	exit(start_failure ? start_failure : (int)field_number(f[1]));
}

static int op_done(char **f, mode_t mode)
{
	(void)f;
	(void)mode;
	if (start_failure)
		exit(start_failure); /* the helper is gone already (ABORT) */
	sync_send(control, SYNC_DONE, 0, 0);
	int status;
	while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
		;
	exit(exit_code(exit_msg.a));
}

/* Fields: how many, with the name; AT_LEAST: that many or more. */
#define AT_LEAST 0x100

static const struct op {
	const char *name;
	int fields;
	/* The field holding an octal mode, read before the step (a bad one fails it); 0 for none. */
	int mode_field;
	/* Only a started run has it: skipped when the command did not start (start_failed). */
	int started_only;
	int (*run)(char **f, mode_t mode);
} OPS[] = {
	{ "stat", 6, 0, 0, op_stat },
	{ "env", 3, 0, 0, op_env },
	{ "unset", 2, 0, 0, op_unset },
	{ "absent", 2, 0, 0, op_absent },
	{ "same", 3, 0, 0, op_same },
	{ "mounts", 3, 0, 0, op_mounts },
	{ "finish", AT_LEAST | 2, 0, 0, op_finish },
	{ "prime", 2, 0, 0, op_prime },
	{ "ensure", 3, 2, 0, op_ensure },
	{ "lock", 3, 0, 0, op_lock },
	{ "shared-lock", 2, 0, 0, op_shared_lock },
	{ "unlock", 2, 0, 0, op_unlock },
	{ "claim", 3, 2, 0, op_claim },
	{ "mkdir", 3, 2, 0, op_mkdir },
	{ "file", 4, 2, 0, op_file },
	{ "chmod", 3, 2, 0, op_chmod },
	{ "atomic", 4, 2, 1, op_atomic },
	{ "rm", 2, 0, 0, op_rm },
	{ "spawn", 5, 0, 0, op_spawn },
	{ "cg-ensure", 2, 0, 0, op_cg_ensure },
	{ "cg-mkdir", 2, 0, 0, op_cg_mkdir },
	{ "cg-fill", 3, 0, 0, op_cg_fill },
	{ "cg-enable", 3, 0, 0, op_cg_enable },
	{ "cg-bpf", 3, 0, 0, op_cg_bpf },
	{ "cg-write", 3, 0, 0, op_cg_write },
	{ "pid", 1, 0, 0, op_pid },
	{ "cg-procs", 2, 0, 0, op_cg_procs },
	{ "continue", 1, 0, 0, op_continue },
	{ "start", 1, 0, 0, op_start },
	{ "wait", 4, 0, 1, op_wait },
	{ "oom", 3, 0, 0, op_oom },
	{ "cg-rmdir", 2, 0, 0, op_cg_rmdir },
	{ "cg-rmdir-shared", 2, 0, 0, op_cg_rmdir_shared },
	{ "rmtree", 3, 0, 0, op_rmtree },
	{ "detach", 1, 0, 1, op_detach },
	{ "print", 2, 0, 1, op_print },
	{ "exit", 2, 0, 0, op_exit },
	{ "done", 1, 0, 0, op_done },
};

/*
 * One step: its op by name, its fields counted, its mode read. -1 when it
 * did not go as recorded (an op or a count this front does not know is not
 * its recipe: EINVAL).
 */
static int step(char **f, int n)
{
	for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++) {
		const struct op *op = &OPS[i];
		if (strcmp(f[0], op->name))
			continue;
		int fields = op->fields & ~AT_LEAST;
		if (op->fields & AT_LEAST ? n < fields : n != fields)
			break;
		if (start_failure && op->started_only)
			return 0; /* a run whose command did not start has no state of a started run, no wait, no name to print */
		mode_t mode = 0;
		if (op->mode_field && mode_of(f[op->mode_field], &mode) < 0)
			return -1;
		return op->run(f, mode);
	}
	errno = EINVAL;
	return -1;
}

/* ------------------------------------------------------------------ */

/* A directory or file opened at `dir` without following a symlink, if it is root's and nobody else may write it. */
static int open_owned(int dir, const char *name, int flags)
{
	int fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The recipe, if the store, its directory of recipes and the recipe are
 * root's and nobody else may write them: a recipe is a list of steps run as
 * root. Each is opened from the one before and checked through its own fd,
 * so that nothing can be swapped in between the check and the read.
 */
static char *read_recipe(const char *root, const char *name, size_t *len)
{
	int store = open_owned(AT_FDCWD, root, O_RDONLY | O_DIRECTORY);
	int prepared = store < 0 ? -1 : open_owned(store, "prepared", O_RDONLY | O_DIRECTORY);
	int fd = prepared < 0 ? -1 : open_owned(prepared, name, O_RDONLY);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct stat st;
	char *recipe = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read_all(path, len) : NULL;
	for (int opened[] = { fd, prepared, store }, i = 0; i < 3; i++)
		if (opened[i] >= 0)
			close(opened[i]);
	return recipe;
}

int main(int argc, char **argv)
{
	args = argv;
	/*
	 * fds 0-2 are always something, as in Bun (which opens /dev/null on a closed one): else the
	 * first file we open would become one, and the container's output would go there.
	 */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return RUNTIME_ERROR;
	/* Recipes are root's (rootless diyc records none): anyone else goes to diyc at once. */
	const char *from_source = getenv("DIYC_FROM_SOURCE");
	if (geteuid() != 0 || argc < 2 || (from_source && *from_source))
		exec_diyc(NULL);
	struct buf inputs = { 0 };
	if (read_inputs(&inputs) < 0)
		exec_diyc(NULL);
	char root[PATH_MAX];
	guess_store(root, sizeof(root), argc, argv);
	char recipe_name[32];
	snprintf(recipe_name, sizeof(recipe_name), "%016llx", (unsigned long long)fnv1a(inputs.data, inputs.len));
	snprintf(recipe_path, sizeof(recipe_path), "%s/prepared/%s", root, recipe_name);
	size_t len;
	char *recipe = read_recipe(root, recipe_name, &len);
	if (!recipe)
		exec_diyc(recipe_path);

	/* Line 1: the format; line 2: the inputs, compared in full. */
	char *save = NULL, *line = strtok_r(recipe, "\n", &save);
	if (!line || strcmp(line, FORMAT))
		exec_diyc(recipe_path);
	line = strtok_r(NULL, "\n", &save);
	if (!line || strncmp(line, "inputs\t", 7))
		exec_diyc(recipe_path);
	size_t inputs_len = unescape(line + 7);
	if (inputs_len != inputs.len || memcmp(line + 7, inputs.data, inputs_len))
		exec_diyc(recipe_path);
	free(inputs.data);

	/*
	 * A helper that died must be a failed step (EPIPE), not our death: as in
	 * Bun, where diyc runs. The helper gets SIGPIPE back (spawn_helper).
	 */
	signal(SIGPIPE, SIG_IGN);
	/* Our name in ps, as diyc's would be. */
	prctl(PR_SET_NAME, "diyc", 0, 0, 0);
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *fields[MAX_FIELDS + 1];
		int n = 0;
		for (char *rest = line; rest && n < MAX_FIELDS;)
			fields[n++] = strsep(&rest, "\t");
		fields[n] = NULL;
		/* An `atomic` step's text is a template: fill_template reads its escapes itself. */
		for (int i = 0; i < n; i++)
			if (!(i == 3 && !strcmp(fields[0], "atomic")))
				unescape(fields[i]);
		if (step(fields, n) < 0)
			fail(fields, n);
	}
	/* A recipe always ends with `done`: one that does not is not ours. */
	errno = EINVAL;
	char *end[] = { "the recipe's end" };
	fail(end, 1);
}
