/*
 * Terminals for containers (-t), both halves: the init's (a pty from the
 * container's own devpts) and the monitor's (relaying it to the user).
 */
#define _GNU_SOURCE
#include "terminal.h"
#include "log.h"
#include "protocol.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

volatile sig_atomic_t terminal_window_changed;

static void copy_window_size(int from, int to)
{
	struct winsize size;
	if (ioctl(from, TIOCGWINSZ, &size) == 0)
		ioctl(to, TIOCSWINSZ, &size);
}

/*
 * A terminal for the container: a pty from the container's own devpts (so
 * the command sees /dev/pts/0 and `tty` works), made the controlling
 * terminal of a new session, as stdin, stdout and stderr. The master end
 * goes to the monitor, which relays it to the user's terminal or the log.
 */
int op_terminal(int sync_fd)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -errno;
	int unlock = 0, number;
	char slave_path[32];
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &number) < 0)
		goto fail_master;
	snprintf(slave_path, sizeof(slave_path), "/dev/pts/%d", number);
	int slave = open(slave_path, O_RDWR | O_NOCTTY);
	if (slave < 0)
		goto fail_master;
	/*
	 * The pty starts at the size of the user's terminal (still our stdin):
	 * the monitor's relay passes the size on too, but only once it runs, and
	 * by then the command may already have asked (`stty size` saw 0 0).
	 */
	if (isatty(STDIN_FILENO))
		copy_window_size(STDIN_FILENO, slave);
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) {
		int saved = errno;
		close(slave);
		close(master);
		return -saved;
	}
	if (slave > 2)
		close(slave);
	int rc = sync_send_fd(sync_fd, SYNC_TERMINAL, master);
	close(master);
	return rc;
fail_master:;
	int saved = errno;
	close(master);
	return -saved;
}

/*
 * -t in the foreground: the user's terminal <-> the container's pty. In raw
 * mode every key (Ctrl-C too) goes to the container's terminal, whose line
 * discipline turns it into a signal for the container's foreground job.
 * Ends when the pty hangs up: every process holding its other end is gone.
 */
void terminal_relay(int master, int raw, struct log_file *log)
{
	static char buffer[16384];
	struct termios saved;
	int restore = raw && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (restore) {
		struct termios rawmode = saved;
		cfmakeraw(&rawmode);
		tcsetattr(STDIN_FILENO, TCSANOW, &rawmode);
	}
	int stdin_is_tty = isatty(STDIN_FILENO);
	if (stdin_is_tty)
		copy_window_size(STDIN_FILENO, master);
	struct pollfd fds[2] = { { STDIN_FILENO, POLLIN, 0 }, { master, POLLIN, 0 } };
	for (;;) {
		if (terminal_window_changed) {
			terminal_window_changed = 0;
			copy_window_size(STDIN_FILENO, master);
		}
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents) {
			ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
			if (n > 0) {
				write_all(master, buffer, (size_t)n);
			} else if ((n == 0 && stdin_is_tty) || (n < 0 && errno == EIO)) {
				/*
				 * The user's terminal hung up (its window closed; in raw mode a
				 * terminal gives no other end of input): hang up the container's
				 * too. The kernel's hangup signals only the session leader, which
				 * here is the namespace's pid 1 and ignores it, so the foreground
				 * job gets its SIGHUP from us, as its shell would have sent it.
				 * Closing the master (the caller does) then ends the shell's read.
				 */
				pid_t foreground = tcgetpgrp(master);
				if (foreground > 0)
					kill(-foreground, SIGHUP);
				break;
			} else if (n == 0 || errno != EINTR) {
				/* Input ended (a pipe, a file): say so as a terminal would, with the EOF character. */
				char eof = 4;
				write_all(master, &eof, 1);
				fds[0].fd = -1;
			}
		}
		if (fds[1].revents) {
			ssize_t n = read(master, buffer, sizeof(buffer));
			if (n > 0) {
				write_all(STDOUT_FILENO, buffer, (size_t)n);
				if (log)
					log_record(log, 'o', buffer, (size_t)n);
			}
			else if (n == 0 || errno != EINTR)
				break; /* EIO: the container's side of the pty is closed */
		}
	}
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
}

/*
 * The OCI console socket: the caller (conmon, the containerd shim) owns the
 * container's terminal, so the pty master goes to it over SCM_RIGHTS, with
 * the pty's name as the message, as runc sends it. Connected before the
 * helper joins any namespace: the path is the host's.
 */
int terminal_connect_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int saved = errno;
		close(sock);
		return -saved;
	}
	return sock;
}

int terminal_send_master(int sock, int master, unsigned rows, unsigned cols)
{
	if (rows > 0 && cols > 0) {
		struct winsize size = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
		ioctl(master, TIOCSWINSZ, &size); /* best effort: the caller resizes it anyway */
	}
	char name[] = "/dev/ptmx";
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
	struct iovec iov = { name, sizeof(name) - 1 };
	struct msghdr header = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &header, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}
