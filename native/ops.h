/* The plan's operations, run by the container's init. See ops.c. */
#ifndef DIYC_OPS_H
#define DIYC_OPS_H

#include "plan.h"

/*
 * Runs every op in order. On success the last op (exec) does not return. On
 * failure it sends SYNC_ERROR(index, errno) on sync_fd and returns -1.
 * Each op's -v line is written to trace_fd before it runs.
 */
int ops_run(const struct plan *plan, int sync_fd, int trace_fd);

/* A detached mount from the helper (SYNC_MOUNT_FD), for OP_ATTACH_MOUNT. 0 or -E2BIG. */
int ops_add_mount_fd(int fd);

/* OP_START_FIFO: the FIFO the helper opened (O_PATH) before the clone; AWAIT_START waits on it. */
void ops_set_start_fifo(int fd);

/* Ops that live in files of their own: reaper.c (terminal.c declares op_terminal). */
int op_fork_reaper(void);

#endif
