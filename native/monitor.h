/* The monitor: the helper's life after the init execs. See monitor.c. */
#ifndef DIYC_MONITOR_H
#define DIYC_MONITOR_H

#include <sys/types.h>
#include "plan.h"

#include "log.h"

/* Waits for the init (draining its log pipes), records its exit, tells diyc or runs the cleanup hook. */
/* terminal: the pty master with -t (else -1), relayed to our stdio or to the log. */
/* held_mnt_ns: the init's mount namespace (HoldMountNamespace), closed once the exit is reported; else -1. */
int monitor_run(const struct plan *plan, pid_t init, int control_fd, const struct log_pipes *log, int terminal, int held_mnt_ns);

/* diyc is gone and the init has ended: run the plan's cleanup hook (exec; returns only if there is none or it fails). */
void monitor_diyc_gone(const struct plan *plan, int control_fd);

#endif
