/* See forward.h. */
#define _GNU_SOURCE
#include "forward.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t target;
static struct forward_policy active;
static size_t note_len;
static volatile sig_atomic_t counted;

/* Every function called here is async-signal-safe (signal-safety(7)). */
static void on_signal(int sig)
{
	int saved = errno;
	if (sig == active.count_signal && ++counted >= active.count_after) {
		if (active.note)
			(void)!write(STDERR_FILENO, active.note, note_len);
		kill(target, active.count_action);
	} else if (sigismember(&active.forwarded, sig) == 1)
		kill(target, sig);
	errno = saved;
}

int parse_signals(const char *text, sigset_t *set)
{
	char *end;
	while (*text) {
		long sig = strtol(text, &end, 10);
		if (end == text || sig < 1 || sig >= 32 || (*end != ',' && *end != '\0'))
			return -1;
		sigaddset(set, (int)sig);
		text = *end == ',' ? end + 1 : end;
	}
	return 0;
}

int parse_count(const char *text, struct forward_policy *policy)
{
	int sig, after, action, used = 0;
	if (sscanf(text, "%d:%d:%d%n", &sig, &after, &action, &used) != 3 || text[used] != '\0' ||
	    sig < 1 || sig >= 32 || after < 1 || action < 1 || action >= 32)
		return -1;
	policy->count_signal = sig;
	policy->count_after = after;
	policy->count_action = action;
	return sigaddset(&policy->caught, sig);
}

void forward_signals(pid_t to, const struct forward_policy *policy)
{
	target = to;
	active = *policy;
	note_len = active.note ? strlen(active.note) : 0;
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	action.sa_flags = SA_RESTART;
	sigfillset(&action.sa_mask);
	for (int sig = 1; sig < 32; sig++)
		if (sigismember(&active.caught, sig) == 1)
			sigaction(sig, &action, NULL);
}
