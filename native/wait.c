/*
 * diyc-wait: where a foreground `diyc run` waits for its container once the
 * wait has lasted (src/runtime/hand-off.ts). Bun keeps some 40 MiB resident;
 * this program keeps about 0.1 MiB. diyc execve's it in its own process, so
 * the pid, the process group, the terminal and the user's shell see no
 * change, and so does the monitor: diyc's end of the control socket is
 * simply held by this program now.
 *
 * It does three things, all decided by diyc and given as arguments:
 *   1. passes the signals diyc would pass on to the container's init
 *      (--forward), catches without passing those the terminal also sent to
 *      the monitor (--catch), and counts one signal, whose Nth arrival sends
 *      another instead (--count: docker's third Ctrl-C kills);
 *   2. waits for the monitor's next message, EXIT (or EOF: the monitor died);
 *   3. execs COMMAND (diyc _finish ...) with that message's type, a and b
 *      appended ("0 0 0" at EOF), to clean up, say what must be said and exit
 *      with the container's status. If diyc is killed on the way, the socket
 *      closes and the monitor runs the cleanup hook (native/monitor.c).
 *
 * Usage (not for people):
 *   diyc-wait CHANNEL_FD TARGET_PID [--forward SIGS] [--catch SIGS]
 *             [--count SIG:N:ACTION] [--note TEXT] [--unblock SIGS]
 *             [--fail CODE] -- COMMAND [ARG...]
 * SIGS is a comma-separated list of signal numbers. --unblock: the signals
 * diyc blocked before its execve, so that none arriving on the way was lost
 * (a blocked signal stays pending across execve); they are unblocked once the
 * handlers are in place.
 */
#define _GNU_SOURCE
#include "forward.h"
#include "sync.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int parse_int(const char *text, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno || end == text || *end != '\0' || value < min || value > max)
		return -1;
	*out = value;
	return 0;
}

static int usage(const char *why, int code)
{
	fprintf(stderr, "diyc-wait: %s (it is run by diyc, not by hand)\n", why);
	return code;
}

int main(int argc, char **argv)
{
	struct forward_policy policy = { .note = NULL };
	sigset_t unblock;
	long channel, pid, fail = 1;
	int k;

	sigemptyset(&policy.forwarded);
	sigemptyset(&policy.caught);
	sigemptyset(&unblock);
	if (argc < 3 || parse_int(argv[1], 0, 1 << 30, &channel) < 0 || parse_int(argv[2], 1, 1 << 30, &pid) < 0)
		return usage("needs CHANNEL_FD and TARGET_PID", (int)fail);
	for (k = 3; k + 1 < argc && strcmp(argv[k], "--") != 0; k += 2) {
		const char *option = argv[k], *value = argv[k + 1];
		int bad = 0;
		if (strcmp(option, "--forward") == 0)
			bad = parse_signals(value, &policy.forwarded) < 0 || parse_signals(value, &policy.caught) < 0;
		else if (strcmp(option, "--catch") == 0)
			bad = parse_signals(value, &policy.caught) < 0;
		else if (strcmp(option, "--count") == 0)
			bad = parse_count(value, &policy) < 0;
		else if (strcmp(option, "--note") == 0)
			policy.note = value;
		else if (strcmp(option, "--unblock") == 0)
			bad = parse_signals(value, &unblock) < 0;
		else if (strcmp(option, "--fail") == 0)
			bad = parse_int(value, 1, 255, &fail) < 0;
		else
			return usage("unknown option", (int)fail);
		if (bad)
			return usage("bad value of an option", (int)fail);
	}
	if (k >= argc || strcmp(argv[k], "--") != 0 || k + 1 >= argc)
		return usage("needs -- COMMAND", (int)fail);
	char **command = argv + k + 1;
	int command_len = argc - k - 1;

	/* Executed as /proc/self/fd/N, our name would be "N" in ps. */
	prctl(PR_SET_NAME, "diyc-wait", 0, 0, 0);

	/* 1. the handlers first, then what arrived during the execve is delivered */
	forward_signals((pid_t)pid, &policy);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);

	/* 2. the monitor's EXIT, or EOF if it died */
	struct sync_msg msg = { 0, 0, 0, 0 };
	int got = sync_recv((int)channel, &msg);
	if (got != 1) {
		/* Read as EOF from here on (diyc cleans up as when the monitor died), but not silently. */
		if (got < 0)
			dprintf(2, "diyc-wait: read the monitor's message: %s\n", strerror(-got));
		memset(&msg, 0, sizeof(msg));
	}

	/* 3. diyc again, with the message: COMMAND... TYPE A B */
	char words[3][16];
	char **next = calloc((size_t)command_len + 4, sizeof(char *));
	if (!next)
		return usage("out of memory", (int)fail);
	memcpy(next, command, (size_t)command_len * sizeof(char *));
	snprintf(words[0], sizeof(words[0]), "%u", msg.type);
	snprintf(words[1], sizeof(words[1]), "%d", msg.a);
	snprintf(words[2], sizeof(words[2]), "%d", msg.b);
	for (int w = 0; w < 3; w++)
		next[command_len + w] = words[w];
	execv(next[0], next);
	/*
	 * diyc cannot run again (its binary was removed?): the socket closes as we
	 * exit, and the monitor, still waiting for DONE, runs the cleanup hook.
	 */
	fprintf(stderr, "diyc: cannot run %s again to finish the run: %s\n", next[0], strerror(errno));
	return (int)fail;
}
