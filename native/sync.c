/* One fixed-size message per write: small enough that a stream socket never splits it. */
#include "sync.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int sync_send(int fd, uint32_t type, int32_t a, int32_t b)
{
	struct sync_msg msg = { .type = type, .a = a, .b = b, .c = 0 };
	ssize_t n;
	do
		n = write(fd, &msg, sizeof(msg));
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
