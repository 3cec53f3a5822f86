/*
 * A container's log, kept by the monitor: a detached container's output, and
 * a foreground one's too, copied on its way to the user. See log.c for the format.
 */
#ifndef DIYC_LOG_H
#define DIYC_LOG_H

#include "plan.h"

#include <stdint.h>

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

/* The log file the plan names (OP_LOG: path, size bound, tee). */
struct log_file {
	const char *path;
	uint64_t max_bytes;
	uint64_t size;
	int fd;
	int tee; /* also pass the output on to our stdout and stderr (a foreground run) */
};

/* Opens it. 0, or -1 when the plan has no log. */
int log_file_from_plan(const struct plan *plan, struct log_file *lf);
/* One record of the container's output ('o' or 'e'), rotated past the bound. */
void log_record(struct log_file *lf, char stream, const char *data, size_t len);
void log_file_close(struct log_file *lf);

/* Writes all of data, going on after EINTR and short writes. 0, or -errno (-EIO for a write of nothing). */
int write_all(int fd, const char *data, size_t len);

/* Drains the init's pipes into the log (and, with tee, to our stdout/stderr) until both close. */
void log_drain(const struct plan *plan, const struct log_pipes *log);
/* -dt: drains the pty master into the log, as stdout, until it hangs up. */
void log_drain_terminal(const struct plan *plan, int master);

#endif
