/*
 * Passing signals on to a container's init while a foreground run waits:
 * the policy diyc decides (src/runtime/run.ts waitContainer), applied by
 * diyc-wait (wait.c) and by the front (front.c) the same way.
 */
#ifndef DIYC_FORWARD_H
#define DIYC_FORWARD_H

#include <signal.h>
#include <sys/types.h>

struct forward_policy {
	/* Sent on to the target. */
	sigset_t forwarded;
	/* Every signal with a handler: the forwarded, the caught-only and the counted one. */
	sigset_t caught;
	/* The count_after-th count_signal sends count_action instead (docker's third Ctrl-C). */
	int count_signal, count_after, count_action;
	/* Written to stderr when the count is reached; NULL for none. */
	const char *note;
};

/* "15,1,10": each number into *set. 0, or -1 if one is not a signal number. */
int parse_signals(const char *text, sigset_t *set);
/* "2:3:9": SIG:N:ACTION into the policy (and its signal into caught). 0 or -1. */
int parse_count(const char *text, struct forward_policy *policy);
/* Installs the handlers for `policy`, passing signals on to `target`. */
void forward_signals(pid_t target, const struct forward_policy *policy);

#endif
