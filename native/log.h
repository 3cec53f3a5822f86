/*
 * A detached container's log, kept by the monitor. See log.c for the format.
 */
#ifndef DIYC_LOG_H
#define DIYC_LOG_H

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

/* Drains the init's pipes into the plan's log (OP_LOG) until both close. */
void log_drain(const struct plan *plan, const struct log_pipes *log);
/* -dt: drains the pty master into the log, as stdout, until it hangs up. */
void log_drain_terminal(const struct plan *plan, int master);

#endif
