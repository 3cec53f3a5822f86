/*
 * The --init reaper (OP_FORK_REAPER), run by the container's init just
 * before exec. See the comment below for why a container wants one.
 */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * --init: the container's pid 1 must reap orphans and pass signals on, which
 * most commands do not do (a shell script or sleep as pid 1 ignores SIGTERM).
 * So we fork: the child goes on to exec the command; this process stays as
 * pid 1, forwards every signal to it, reaps every zombie, and exits as the
 * command did. It has already dropped privileges with the rest of the plan.
 */
static volatile pid_t reaper_child;

static void reaper_forward(int sig)
{
	if (reaper_child > 0)
		kill(reaper_child, sig);
}

int op_fork_reaper(void)
{
	pid_t child = fork();
	if (child < 0)
		return -errno;
	if (child == 0)
		return 0; /* the command's side: on to exec */
	/*
	 * Never exec'd, this process would keep every close-on-exec fd for the
	 * container's life: the sync socket (the helper learns of the exec from
	 * the child's copy alone) and the -v trace, which is diyc's stderr and
	 * would hold open a pipe `diyc run -v -d --init ... | tail` waits on.
	 * A reaper needs no fd but the container's stdio.
	 */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	reaper_child = child;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP)
			signal(sig, reaper_forward); /* best effort: the RT range may refuse */
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			_exit(1);
		if (pid != child)
			continue; /* an orphan, reaped */
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(128 + WTERMSIG(status));
	}
}

