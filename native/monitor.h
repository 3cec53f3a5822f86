/* The monitor: the helper's life after the init execs. See monitor.c. */
#ifndef DIYC_MONITOR_H
#define DIYC_MONITOR_H

#include <sys/types.h>
#include "plan.h"

/* The init's stdout and stderr, when the plan sends them to a log (OP_LOG). */
struct log_pipes {
	int enabled;
	int out[2];
	int err[2];
};

/* Makes both pipes (close-on-exec) if `enabled`. 0 or -1 with errno. */
int log_pipes_open(struct log_pipes *log, int enabled);
/* Closes all four ends (the init, once it has dup'ed the write ends). */
void log_pipes_close(const struct log_pipes *log);
/* The monitor keeps only the read ends. */
void log_pipes_keep_read_ends(struct log_pipes *log);

/* Waits for the init (draining its log pipes), records its exit, tells diyc or runs the cleanup hook. */
/* terminal: the pty master with -t (else -1), relayed to our stdio or to the log. */
int monitor_run(const struct plan *plan, pid_t init, int control_fd, const struct log_pipes *log, int terminal);

#endif
