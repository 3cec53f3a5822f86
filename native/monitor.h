/* The monitor: the helper's life after the init execs. See monitor.c. */
#ifndef DIYC_MONITOR_H
#define DIYC_MONITOR_H

#include <sys/types.h>
#include "plan.h"

/* Waits for the init, records its exit, tells diyc or runs the cleanup hook. */
int monitor_run(const struct plan *plan, pid_t init, int control_fd);

#endif
