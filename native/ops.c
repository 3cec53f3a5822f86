/*
 * The plan's operations, as run by the container's init before execve.
 *
 * Each function does one kernel step and returns 0 or -errno; ops_run()
 * reports the failing op's index and errno to diyc, which prints the step by
 * name. Nothing here decides anything: paths, flags and masks come from the
 * plan (src/plan/compile.ts).
 *
 * Paths with OPF_IN_ROOT are resolved inside the container's root with
 * openat2(RESOLVE_IN_ROOT): a symlink in the image such as /proc -> /etc
 * or ../../host can never make a mount land outside the container's tree.
 * The kernel then mounts on the resolved file through /proc/self/fd/N.
 */
#define _GNU_SOURCE
#include "log.h"
#include "ops.h"
#include "protocol.h"
#include "sync.h"
#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
/* mount_setattr(2) (Linux 5.12): musl has no wrapper for it; its number and AT_RECURSIVE come with the kernel headers helper.c uses too. */
struct mount_attr_args { /* struct mount_attr in linux/mount.h, which clashes with sys/mount.h */
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

/* The directory that becomes "/", as an O_PATH fd; -1 until OP_OPEN_ROOT. */
static int root_fd = -1;

static int fail(void) { return -errno; }

/*
 * Opens `path`: inside the root for an OPF_IN_ROOT op, else as the host sees
 * it. An in-root op with no root open is a plan error (EBADF), never a
 * silent lookup on the host: a path chosen from inside the container, such
 * as `exec -w /proc/self/fd/N`, must not be able to lead out of it.
 */
static int open_path(const struct plan_op *op, const char *path, int flags, mode_t mode)
{
	if (op->flags & OPF_IN_ROOT) {
		if (root_fd < 0) {
			errno = EBADF;
			return -1;
		}
		struct open_how how = {
			.flags = (uint64_t)flags,
			.mode = (flags & O_CREAT) ? mode : 0,
			.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};
		return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	}
	return open(path, flags, mode);
}

/* "/proc/self/fd/N": the name by which mount(2) reaches an fd-resolved path. */
static void fd_path(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* mkdir -p inside the root. A component that exists is followed (within the root). */
static int make_dirs(const struct plan_op *op, const char *path, mode_t mode)
{
	char partial[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(partial))
		return -ENAMETOOLONG;
	for (size_t i = 1; i <= len; i++) {
		if (i != len && path[i] != '/')
			continue;
		memcpy(partial, path, i);
		partial[i] = '\0';
		int fd = open_path(op, partial, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno != ENOENT)
			return fail();
		/* Create the last component in its (already safely opened) parent. */
		char *slash = strrchr(partial, '/');
		const char *name = slash + 1;
		int parent;
		if (slash == partial) {
			parent = open_path(op, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		} else {
			*slash = '\0';
			parent = open_path(op, partial, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		}
		if (parent < 0)
			return fail();
		int rc = mkdirat(parent, name, mode);
		int saved = errno;
		close(parent);
		if (rc < 0 && saved != EEXIST)
			return -saved;
	}
	return 0;
}

/* "dir/name" -> "dir" in `parent` ("/" for "/name") and "name" in *name. 0 or -errno. */
static int split_parent(const char *path, char parent[PATH_MAX], const char **name)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return -EINVAL;
	size_t n = (size_t)(slash - path);
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(parent, path, n);
	parent[n] = '\0';
	if (n == 0)
		strcpy(parent, "/");
	*name = slash + 1;
	return 0;
}

/* Creates an empty file (and its directories) to bind-mount a file onto. */
static int make_file(const struct plan_op *op, const char *path)
{
	char parent[PATH_MAX];
	const char *name;
	int rc = split_parent(path, parent, &name);
	if (rc < 0)
		return rc;
	if ((rc = make_dirs(op, parent, 0755)) < 0)
		return rc;
	int fd = open_path(op, path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail();
	close(fd);
	return 0;
}

/* A mount's target, made first when the op says so: a directory, or an empty file to bind a file onto. */
static int make_target(const struct plan_op *op, const char *target)
{
	if (op->flags & OPF_MKDIR_TARGET)
		return make_dirs(op, target, 0755);
	if (op->flags & OPF_MKFILE_TARGET)
		return make_file(op, target);
	return 0;
}

static int op_mount(const struct plan_op *op)
{
	const char *source = plan_str(op, ARG_MOUNT_SOURCE), *target = plan_str(op, ARG_MOUNT_TARGET);
	const char *fstype = plan_str(op, ARG_MOUNT_FSTYPE), *data = plan_str(op, ARG_MOUNT_DATA);
	uint64_t flags;
	char target_path[64];
	int rc, fd;

	if (!source || !target || !fstype || !data || plan_u64(op, ARG_MOUNT_FLAGS, &flags) < 0)
		return -EINVAL;
	if ((rc = make_target(op, target)) < 0)
		return rc;
	fd = open_path(op, target, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return fail();
	fd_path(fd, target_path, sizeof(target_path));
	rc = mount(*source ? source : NULL, target_path, *fstype ? fstype : NULL,
		   (unsigned long)flags, *data ? data : NULL);
	rc = rc < 0 ? fail() : 0;
	close(fd);
	return rc;
}

static int op_mkdir(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_MKDIR_PATH);
	uint64_t mode;
	if (!path || plan_u64(op, ARG_MKDIR_MODE, &mode) < 0)
		return -EINVAL;
	return make_dirs(op, path, (mode_t)mode);
}

/* An fd for the directory of "dir/name" (inside the root), and name. */
static int open_parent(const struct plan_op *op, const char *path, const char **name)
{
	char parent[PATH_MAX];
	int rc = split_parent(path, parent, name);
	if (rc < 0)
		return rc;
	int fd = open_path(op, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	return fd < 0 ? fail() : fd;
}

static int op_mknod(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_MKNOD_PATH), *name;
	uint64_t mode, dev;
	if (!path || plan_u64(op, ARG_MKNOD_MODE, &mode) < 0 || plan_u64(op, ARG_MKNOD_DEV, &dev) < 0)
		return -EINVAL;
	int dir = open_parent(op, path, &name);
	if (dir < 0)
		return dir;
	int rc = mknodat(dir, name, (mode_t)mode, (dev_t)dev) < 0 ? fail() : 0;
	/* mknod applies the umask; the plan's mode is meant exactly. */
	if (rc == 0 && fchmodat(dir, name, (mode_t)mode & 07777, 0) < 0)
		rc = fail();
	close(dir);
	return rc;
}

static int op_symlink(const struct plan_op *op)
{
	const char *target = plan_str(op, ARG_SYMLINK_TARGET), *path = plan_str(op, ARG_SYMLINK_LINKPATH), *name;
	if (!target || !path)
		return -EINVAL;
	int dir = open_parent(op, path, &name);
	if (dir < 0)
		return dir;
	int rc = symlinkat(target, dir, name) < 0 ? fail() : 0;
	close(dir);
	return rc;
}

static int op_open_root(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_OPEN_ROOT_PATH);
	if (!path)
		return -EINVAL;
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail();
	if (root_fd >= 0)
		close(root_fd);
	root_fd = fd;
	return 0;
}

/*
 * pivot_root(".", "."): the new root is stacked over the old one, then the old
 * one is detached from ".". No put_old directory is needed in the image, and
 * nothing of the host's tree stays reachable (unlike chroot, which can be
 * escaped by a process that keeps a directory fd outside).
 */
static int op_pivot_root(const struct plan_op *op)
{
	(void)op;
	if (root_fd < 0)
		return -EBADF;
	if (fchdir(root_fd) < 0)
		return fail();
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail();
	if (umount2(".", MNT_DETACH) < 0)
		return fail();
	if (chdir("/") < 0)
		return fail();
	close(root_fd);
	root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return root_fd < 0 ? fail() : 0;
}

static int op_sethostname(const struct plan_op *op, int domain)
{
	const char *name = plan_str(op, ARG_SETHOSTNAME_NAME);
	if (!name)
		return -EINVAL;
	int rc = domain ? setdomainname(name, strlen(name)) : sethostname(name, strlen(name));
	return rc < 0 ? fail() : 0;
}

/* Hides a path: an empty read-only tmpfs over a directory, /dev/null over a file. */
static int op_mask_path(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_MASK_PATH_PATH);
	char target[64];
	struct stat st;
	if (!path)
		return -EINVAL;
	int fd = open_path(op, path, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return fail();
	int rc = fstat(fd, &st);
	fd_path(fd, target, sizeof(target));
	if (rc == 0) {
		if (S_ISDIR(st.st_mode))
			rc = mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0");
		else
			rc = mount("/dev/null", target, NULL, MS_BIND, NULL);
	}
	rc = rc < 0 ? fail() : 0;
	close(fd);
	return rc;
}

/*
 * Read-only bind of a path onto itself. The remount must name the new bind
 * mount, not the file underneath, so the path is opened again after the bind.
 */
static int op_readonly_path(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_READONLY_PATH_PATH);
	char target[64];
	uint64_t keep;
	int rc;
	if (!path || plan_u64(op, ARG_READONLY_PATH_KEEP_FLAGS, &keep) < 0)
		return -EINVAL;
	int fd = open_path(op, path, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return fail();
	fd_path(fd, target, sizeof(target));
	rc = mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0 ? fail() : 0;
	close(fd);
	if (rc < 0)
		return rc;
	fd = open_path(op, path, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return fail();
	fd_path(fd, target, sizeof(target));
	/* A remount replaces the flags: the plan passes the ones to keep (nosuid, nodev, noexec). */
	rc = mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (unsigned long)keep, NULL) < 0 ? fail() : 0;
	close(fd);
	return rc;
}

/*
 * mount_setattr(2) on a mount, and with `recursive` on every mount below it
 * too (AT_RECURSIVE): a read-only volume whose host directory holds other
 * mounts is read-only all the way down, which a remount of the top cannot do.
 */
static int op_mount_setattr(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_MOUNT_SETATTR_PATH);
	uint64_t set, clear, recursive;
	if (!path || plan_u64(op, ARG_MOUNT_SETATTR_ATTR_SET, &set) < 0 || plan_u64(op, ARG_MOUNT_SETATTR_ATTR_CLR, &clear) < 0 || plan_u64(op, ARG_MOUNT_SETATTR_RECURSIVE, &recursive) < 0)
		return -EINVAL;
	int fd = open_path(op, path, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return fail();
	struct mount_attr_args attr = { .attr_set = set, .attr_clr = clear, .propagation = 0, .userns_fd = 0 };
	unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
	int rc = syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof(attr)) < 0 ? fail() : 0;
	close(fd);
	return rc;
}

/* Writes data to an existing file (no O_CREAT: a sysctl that does not exist is an error). */
static int op_write_file(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_WRITE_FILE_PATH);
	if (!path || op->argc < 2)
		return -EINVAL;
	int fd = open_path(op, path, O_WRONLY | O_TRUNC | O_CLOEXEC, 0);
	if (fd < 0)
		return fail();
	int rc = write_all(fd, op->args[1].data, op->args[1].len);
	close(fd);
	return rc;
}

static int op_setrlimit(const struct plan_op *op)
{
	uint64_t resource, soft, hard;
	if (plan_u64(op, ARG_SETRLIMIT_RESOURCE, &resource) < 0 || plan_u64(op, ARG_SETRLIMIT_SOFT, &soft) < 0 || plan_u64(op, ARG_SETRLIMIT_HARD, &hard) < 0)
		return -EINVAL;
	struct rlimit lim = { .rlim_cur = soft, .rlim_max = hard };
	return setrlimit((int)resource, &lim) < 0 ? fail() : 0;
}

static int op_setgroups(const struct plan_op *op)
{
	if (op->argc < 1 || op->args[0].len % 4 != 0)
		return -EINVAL;
	size_t count = op->args[0].len / 4;
	gid_t groups[count ? count : 1];
	memcpy(groups, op->args[0].data, count * 4);
	return setgroups(count, groups) < 0 ? fail() : 0;
}

static int op_set_id(const struct plan_op *op, int is_uid)
{
	uint64_t id;
	/* Setuid's uid and Setgid's gid are both the first argument. */
	if (plan_u64(op, is_uid ? ARG_SETUID_UID : ARG_SETGID_GID, &id) < 0)
		return -EINVAL;
	/* setres*id sets real, effective and saved ids alike: no way back. */
	int rc = is_uid ? setresuid((uid_t)id, (uid_t)id, (uid_t)id) : setresgid((gid_t)id, (gid_t)id, (gid_t)id);
	return rc < 0 ? fail() : 0;
}

static int op_drop_bounding(const struct plan_op *op)
{
	if (op->argc < 1)
		return -EINVAL;
	for (uint32_t i = 0; i < op->args[0].len; i++) {
		unsigned cap = (unsigned char)op->args[0].data[i];
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return fail();
	}
	return 0;
}

static int op_set_caps(const struct plan_op *op)
{
	uint64_t effective, permitted, inheritable;
	if (plan_u64(op, ARG_SET_CAPS_EFFECTIVE, &effective) < 0 || plan_u64(op, ARG_SET_CAPS_PERMITTED, &permitted) < 0 ||
	    plan_u64(op, ARG_SET_CAPS_INHERITABLE, &inheritable) < 0)
		return -EINVAL;
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable },
		{ (uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32) },
	};
	return syscall(SYS_capset, &header, data) < 0 ? fail() : 0;
}

/* KeepCaps, SetDumpable (on), ParentDeathSignal (signal): the value at `arg`; NoNewPrivs: none (arg -1), meaning 1. */
static int op_prctl_flag(const struct plan_op *op, int option, int arg)
{
	uint64_t on = 1;
	if (arg >= 0 && plan_u64(op, (unsigned)arg, &on) < 0)
		return -EINVAL;
	return prctl(option, (unsigned long)on, 0, 0, 0) < 0 ? fail() : 0;
}

static int op_seccomp(const struct plan_op *op)
{
	if (op->argc < 1 || op->args[0].len % sizeof(struct sock_filter) != 0)
		return -EINVAL;
	uint64_t flags = 0;
	if (op->argc > 1 && plan_u64(op, ARG_SECCOMP_FLAGS, &flags) < 0)
		return -EINVAL;
	struct sock_fprog prog = {
		.len = (unsigned short)(op->args[0].len / sizeof(struct sock_filter)),
		.filter = (struct sock_filter *)op->args[0].data,
	};
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned long)flags, &prog) < 0 ? fail() : 0;
}

static int op_unshare(const struct plan_op *op)
{
	uint64_t flags;
	if (plan_u64(op, ARG_UNSHARE_FLAGS, &flags) < 0)
		return -EINVAL;
	return unshare((int)flags) < 0 ? fail() : 0;
}

static int op_chdir(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_CHDIR_PATH);
	if (!path)
		return -EINVAL;
	int fd = open_path(op, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return fail();
	int rc = fchdir(fd) < 0 ? fail() : 0;
	close(fd);
	return rc;
}

static int op_cloexec_fds(const struct plan_op *op)
{
	uint64_t first;
	if (plan_u64(op, ARG_CLOEXEC_FDS_FIRST_FD, &first) < 0)
		return -EINVAL;
	/* Marked, not closed: the sync socket must stay open until execve closes it. */
	return syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? fail() : 0;
}

static int op_reset_signals(void)
{
	sigset_t none;
	/* Bun leaves SIGPIPE and SIGXFSZ ignored; ignored dispositions survive execve. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* best effort: SIGKILL/SIGSTOP and the RT range give EINVAL */
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL) < 0 ? fail() : 0;
}

/*
 * The PATH search of op_exec and op_find_exec, in the container's PATH (given
 * by the plan), not the helper's: `try` gets each directory's candidate in
 * order, or `file` itself when it holds a '/' or there is no PATH, until it
 * returns nonzero; that value is returned (0 when none did).
 */
static int search_path(const char *file, const char *search, int (*try)(const char *candidate, void *ctx), void *ctx)
{
	char candidate[PATH_MAX];
	if (strchr(file, '/') || !*search)
		return try(file, ctx);
	for (const char *dir = search; *dir;) {
		const char *end = strchrnul(dir, ':');
		int n = snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)(end - dir), dir, file);
		if (n > 0 && (size_t)n < sizeof(candidate)) {
			int rc = try(candidate, ctx);
			if (rc)
				return rc;
		}
		dir = *end ? end + 1 : end;
	}
	return 0;
}

struct exec_attempt {
	char **argv, **envp;
	int last, best;
};

/* Returns only if execve failed: ENOENT moves on; any other error is remembered, as execvp(3) does. */
static int try_execve(const char *candidate, void *ctx)
{
	struct exec_attempt *a = ctx;
	execve(candidate, a->argv, a->envp);
	a->last = errno;
	if (errno != ENOENT && errno != ENOTDIR)
		a->best = errno;
	return 0;
}

/* execve with the PATH search: "permission denied" beats "not found"; a path's own error is its own. */
static int op_exec(const struct plan_op *op)
{
	const char *file = plan_str(op, ARG_EXEC_FILE), *search = plan_str(op, ARG_EXEC_SEARCH);
	struct exec_attempt attempt = { plan_list(op, ARG_EXEC_ARGV), plan_list(op, ARG_EXEC_ENVP), ENOENT, ENOENT };

	if (!file || !search || !attempt.argv || !attempt.envp || !*file)
		return -EINVAL;
	search_path(file, search, try_execve, &attempt);
	return -(strchr(file, '/') || !*search ? attempt.last : attempt.best);
}

/*
 * The OCI barrier (OP_START_FIFO): the helper opened the FIFO with O_PATH
 * before the clone, so the init holds it even after pivot_root hid the host's
 * path. Reopening it for writing through /proc/self/fd blocks until
 * `diyc-oci start` opens it for reading; the byte written tells start the
 * init is through. -1 when the barrier is the sync socket.
 */
static int start_fifo_fd = -1;

/*
 * The fds ops_run itself uses: the sync socket (errors go there) and the -v
 * trace. OP_MOVE_FDS moves them out of its way.
 */
static int ops_sync_fd = -1, ops_trace_fd = -1;

void ops_set_start_fifo(int fd)
{
	start_fifo_fd = fd;
}

static int await_start_fifo(int sync_fd)
{
	char path[64];
	int rc = sync_send(sync_fd, SYNC_READY, 0, 0);
	if (rc < 0)
		return rc;
	/*
	 * The -v trace is the caller's stderr: a parked init must not hold it (the
	 * containerd shim reads create's stderr to EOF). Later steps go untraced.
	 */
	if (ops_trace_fd >= 0) {
		close(ops_trace_fd);
		ops_trace_fd = -1;
	}
	fd_path(start_fifo_fd, path, sizeof(path));
	int fd;
	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail();
	rc = write(fd, "0", 1) == 1 ? 0 : fail();
	close(fd);
	close(start_fifo_fd);
	start_fifo_fd = -1;
	return rc;
}

/*
 * The executable exists in the container and may be run: `diyc-oci start`
 * cannot report a failed execve (the caller only sees the exit status), so
 * create checks first, as runc does, with the same PATH search as op_exec.
 * ENOENT when no candidate exists; EACCES when one exists but is not executable.
 */
static int is_executable_file(const char *path, void *found)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	*(int *)found = 1;
	return S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static int op_find_exec(const struct plan_op *op)
{
	const char *file = plan_str(op, ARG_FIND_EXEC_FILE), *search = plan_str(op, ARG_FIND_EXEC_SEARCH);
	int found = 0;
	if (!file || !search || !*file)
		return -EINVAL;
	if (search_path(file, search, is_executable_file, &found))
		return 0;
	return found ? -EACCES : -ENOENT;
}

static int op_umask(const struct plan_op *op)
{
	uint64_t mask;
	if (plan_u64(op, ARG_UMASK_MASK, &mask) < 0)
		return -EINVAL;
	umask((mode_t)mask);
	return 0;
}

static int op_raise_ambient(const struct plan_op *op)
{
	if (op->argc < 1)
		return -EINVAL;
	for (uint32_t i = 0; i < op->args[0].len; i++) {
		unsigned cap = (unsigned char)op->args[0].data[i];
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return fail();
	}
	return 0;
}

static int op_personality(const struct plan_op *op)
{
	uint64_t persona;
	if (plan_u64(op, ARG_PERSONALITY_PERSONA, &persona) < 0)
		return -EINVAL;
	return syscall(SYS_personality, (unsigned long)persona) < 0 ? fail() : 0;
}


/* Moves *fd to a number >= floor (close-on-exec) if it lies in [low, floor). 0 or -errno. */
static int move_above(int *fd, int low, int floor)
{
	if (*fd < low || *fd >= floor)
		return 0;
	int moved = fcntl(*fd, F_DUPFD_CLOEXEC, floor);
	if (moved < 0)
		return fail();
	close(*fd);
	*fd = moved;
	return 0;
}

/*
 * OCI --preserve-fds: the caller's fds, kept by the helper at from.., become
 * the command's 3.. (without close-on-exec: dup2 clears it; the originals,
 * marked by OP_CLOEXEC_FDS, close at exec). Ascending order is safe: from > 3,
 * so a target never overwrites a source still to be copied.
 */
static int op_move_fds(const struct plan_op *op)
{
	uint64_t from, count;
	int rc;
	if (plan_u64(op, ARG_MOVE_FDS_FROM, &from) < 0 || plan_u64(op, ARG_MOVE_FDS_COUNT, &count) < 0 || from <= 3)
		return -EINVAL;
	int floor = 3 + (int)count;
	if ((rc = move_above(&ops_sync_fd, 3, floor)) < 0 || (rc = move_above(&ops_trace_fd, 3, floor)) < 0 ||
	    (rc = move_above(&root_fd, 3, floor)) < 0)
		return rc;
	for (uint64_t i = 0; i < count; i++)
		if (dup2((int)(from + i), (int)(3 + i)) < 0)
			return fail();
	return 0;
}

/*
 * OCI hooks run by the init itself: createContainer (in the container's
 * namespaces, before pivot_root) and startContainer (after start, before the
 * command). Their stdin is the state file diyc-oci wrote, opened here while
 * the host's paths are still in reach.
 */
static int hook_state_fd = -1;

static int op_hook_state(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_HOOK_STATE_PATH);
	if (!path)
		return -EINVAL;
	hook_state_fd = open(path, O_RDONLY | O_CLOEXEC);
	return hook_state_fd < 0 ? fail() : 0;
}

/*
 * 0 when the hook exited 0; its execve's errno when it could not be run (a
 * close-on-exec pipe carries it back); -ETIMEDOUT when killed at its
 * timeout; -ECANCELED for any other end.
 */
static int op_run_hook(const struct plan_op *op)
{
	const char *path = plan_str(op, ARG_RUN_HOOK_PATH);
	char **argv = plan_list(op, ARG_RUN_HOOK_ARGV), **envp = plan_list(op, ARG_RUN_HOOK_ENVP);
	uint64_t timeout;
	int exec_error[2];
	if (!path || !argv || !envp || plan_u64(op, ARG_RUN_HOOK_TIMEOUT_S, &timeout) < 0)
		return -EINVAL;
	if (pipe2(exec_error, O_CLOEXEC) < 0)
		return fail();
	pid_t child = fork();
	if (child < 0) {
		int rc = fail();
		close(exec_error[0]);
		close(exec_error[1]);
		return rc;
	}
	if (child == 0) {
		if (hook_state_fd >= 0) {
			/* The child's own offset is shared with ours: rewind, and make it stdin. */
			lseek(hook_state_fd, 0, SEEK_SET);
			dup2(hook_state_fd, STDIN_FILENO);
		}
		execve(path, argv, envp);
		int e = errno;
		ssize_t ignored = write(exec_error[1], &e, sizeof(e));
		(void)ignored;
		_exit(127);
	}
	close(exec_error[1]);
	/* Poll in 10 ms steps: no signal handler of ours may run in the init. */
	uint64_t waited_ms = 0;
	for (;;) {
		int status;
		pid_t done = waitpid(child, &status, WNOHANG);
		if (done == child) {
			/* Reaped: the write end is closed (by execve, or by the exit), so this read does not block. */
			int e = 0;
			ssize_t n = read(exec_error[0], &e, sizeof(e));
			close(exec_error[0]);
			if (n == (ssize_t)sizeof(e) && e > 0)
				return -e;
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECANCELED;
		}
		if (done < 0 && errno != EINTR) {
			int rc = fail();
			close(exec_error[0]);
			return rc;
		}
		if (timeout > 0 && waited_ms >= timeout * 1000) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			close(exec_error[0]);
			return -ETIMEDOUT;
		}
		struct timespec step = { 0, 10 * 1000 * 1000 };
		nanosleep(&step, NULL);
		waited_ms += 10;
	}
}

/* Detached mounts the helper prepared (idmapped binds), in plan order; attached by OP_ATTACH_MOUNT. */
#define MAX_MOUNT_FDS 64
static int mount_fds[MAX_MOUNT_FDS];
static unsigned mount_fd_count;

int ops_add_mount_fd(int fd)
{
	if (mount_fd_count >= MAX_MOUNT_FDS)
		return -E2BIG;
	mount_fds[mount_fd_count++] = fd;
	return 0;
}

static int op_attach_mount(const struct plan_op *op)
{
	uint64_t index;
	const char *target = plan_str(op, ARG_ATTACH_MOUNT_TARGET);
	int rc;
	if (plan_u64(op, ARG_ATTACH_MOUNT_INDEX, &index) < 0 || !target || index >= mount_fd_count)
		return -EINVAL;
	if ((rc = make_target(op, target)) < 0)
		return rc;
	int to = open_path(op, target, O_PATH | O_CLOEXEC, 0);
	if (to < 0)
		return fail();
	rc = syscall(SYS_move_mount, mount_fds[index], "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0 ? fail() : 0;
	close(to);
	close(mount_fds[index]);
	mount_fds[index] = -1;
	return rc;
}

/* Settings are the helper's (plan-ops.h); the init skips them. */
static int op_is_helper_setting(uint16_t code)
{
	const struct op_shape *shape = plan_op_shape(code);
	return shape && shape->setting;
}

static int run_one(const struct plan_op *op, int sync_fd)
{
	switch (op->code) {
	case OP_MOUNT: return op_mount(op);
	case OP_MKDIR: return op_mkdir(op);
	case OP_MKNOD: return op_mknod(op);
	case OP_SYMLINK: return op_symlink(op);
	case OP_OPEN_ROOT: return op_open_root(op);
	case OP_PIVOT_ROOT: return op_pivot_root(op);
	case OP_SETHOSTNAME: return op_sethostname(op, 0);
	case OP_SETDOMAINNAME: return op_sethostname(op, 1);
	case OP_MASK_PATH: return op_mask_path(op);
	case OP_READONLY_PATH: return op_readonly_path(op);
	case OP_SETRLIMIT: return op_setrlimit(op);
	case OP_SETGROUPS: return op_setgroups(op);
	case OP_SETGID: return op_set_id(op, 0);
	case OP_SETUID: return op_set_id(op, 1);
	case OP_DROP_BOUNDING: return op_drop_bounding(op);
	case OP_SET_CAPS: return op_set_caps(op);
	case OP_CLEAR_AMBIENT:
		return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ? fail() : 0;
	case OP_NO_NEW_PRIVS: return op_prctl_flag(op, PR_SET_NO_NEW_PRIVS, -1);
	case OP_KEEP_CAPS: return op_prctl_flag(op, PR_SET_KEEPCAPS, ARG_KEEP_CAPS_ON);
	case OP_SET_DUMPABLE: return op_prctl_flag(op, PR_SET_DUMPABLE, ARG_SET_DUMPABLE_ON);
	case OP_SECCOMP: return op_seccomp(op);
	case OP_UNSHARE: return op_unshare(op);
	case OP_TERMINAL: return op_terminal(sync_fd);
	case OP_FORK_REAPER: return op_fork_reaper();
	case OP_NEW_SESSION: return setsid() < 0 ? fail() : 0;
	case OP_MOUNT_SETATTR: return op_mount_setattr(op);
	case OP_WRITE_FILE: return op_write_file(op);
	case OP_PARENT_DEATH_SIGNAL: return op_prctl_flag(op, PR_SET_PDEATHSIG, ARG_PARENT_DEATH_SIGNAL_SIGNAL);
	case OP_CHDIR: return op_chdir(op);
	case OP_CLOEXEC_FDS: return op_cloexec_fds(op);
	case OP_RESET_SIGNALS: return op_reset_signals();
	case OP_AWAIT_START: return start_fifo_fd >= 0 ? await_start_fifo(sync_fd) : sync_ready_and_wait_start(sync_fd);
	case OP_EXEC: return op_exec(op);
	case OP_FIND_EXEC: return op_find_exec(op);
	case OP_UMASK: return op_umask(op);
	case OP_RAISE_AMBIENT: return op_raise_ambient(op);
	case OP_PERSONALITY: return op_personality(op);
	case OP_MOVE_FDS: return op_move_fds(op);
	case OP_HOOK_STATE: return op_hook_state(op);
	case OP_RUN_HOOK: return op_run_hook(op);
	case OP_ATTACH_MOUNT: return op_attach_mount(op);
	}
	return -ENOSYS;
}

int ops_run(const struct plan *plan, int sync_fd, int trace_fd)
{
	ops_sync_fd = sync_fd;
	ops_trace_fd = trace_fd;
	for (uint32_t i = 0; i < plan->count; i++) {
		const struct plan_op *op = &plan->ops[i];
		if (op_is_helper_setting(op->code))
			continue; /* consumed by the helper before clone; diyc traced them */
		if (op->trace_len > 0) {
			/* The -v line: written before the step, so a hang shows where. */
			struct iovec parts[2] = { { (void *)op->trace, op->trace_len }, { "\n", 1 } };
			(void)!writev(ops_trace_fd, parts, 2);
		}
		int rc = run_one(op, ops_sync_fd);
		if (rc == -ENOENT && (op->flags & OPF_OPTIONAL))
			continue;
		if (rc < 0) {
			sync_send(ops_sync_fd, SYNC_ERROR, (int32_t)i, -rc);
			return -1;
		}
	}
	/* OP_EXEC returns only on failure, so reaching here means the plan had no exec. */
	sync_send(ops_sync_fd, SYNC_ERROR, (int32_t)plan->count, ENOEXEC);
	return -1;
}
