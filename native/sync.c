/* One fixed-size message per write: small enough that a stream socket never splits it. */
#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int sync_send(int fd, uint32_t type, int32_t a, int32_t b)
{
	struct sync_msg msg = { .type = type, .a = a, .b = b, .c = 0 };
	ssize_t n;
	/* send, not write: a helper that has left (OCI) must not kill the init with SIGPIPE. */
	do
		n = send(fd, &msg, sizeof(msg), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(msg) ? 0 : -EIO;
}

int sync_recv(int fd, struct sync_msg *msg)
{
	size_t got = 0;
	while (got < sizeof(*msg)) {
		ssize_t n = read(fd, (char *)msg + got, sizeof(*msg) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got == 0 ? 0 : -EIO;
		got += (size_t)n;
	}
	return 1;
}

int sync_send_fd(int fd, uint32_t type, int passed_fd)
{
	struct sync_msg msg = { .type = type, .a = 0, .b = 0, .c = 0 };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr header = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &passed_fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(fd, &header, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(msg) ? 0 : -EIO;
}

int sync_recv_fd(int fd, struct sync_msg *msg, int *passed_fd)
{
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
	struct iovec iov = { msg, sizeof(*msg) };
	struct msghdr header = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	ssize_t n;
	*passed_fd = -1;
	do
		n = recvmsg(fd, &header, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if (n != sizeof(*msg))
		return -EIO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(&header, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
	return 1;
}

int sync_ready_and_wait_start(int fd)
{
	struct sync_msg msg;
	int rc = sync_send(fd, SYNC_READY, 0, 0);
	if (rc < 0)
		return rc;
	rc = sync_recv(fd, &msg);
	if (rc < 0)
		return rc;
	/* EOF: the helper is gone, so nobody will ever say START. */
	if (rc == 0 || msg.type != SYNC_START)
		return -ECANCELED;
	return 0;
}
