/* Sending and receiving struct sync_msg, retrying on EINTR. See protocol.h. */
#ifndef DIYC_SYNC_H
#define DIYC_SYNC_H

#include "protocol.h"

/* 0 or -errno. */
int sync_send(int fd, uint32_t type, int32_t a, int32_t b);
/* 1 with a message, 0 at EOF, -errno on error. */
int sync_recv(int fd, struct sync_msg *msg);
/* Sends a message carrying a file descriptor (SCM_RIGHTS). 0 or -errno. */
int sync_send_fd(int fd, uint32_t type, int passed_fd);
/* Like sync_recv; a descriptor that came with the message lands in *passed_fd (else -1). */
int sync_recv_fd(int fd, struct sync_msg *msg, int *passed_fd);

/* Init side of OP_AWAIT_START: send READY, then block until START. 0 or -errno. */
int sync_ready_and_wait_start(int fd);

#endif
