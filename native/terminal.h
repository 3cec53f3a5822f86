/*
 * -t: a pty for the container. The init opens it (OP_TERMINAL) and passes the
 * master to the monitor, which relays it to the user's terminal.
 */
#ifndef DIYC_TERMINAL_H
#define DIYC_TERMINAL_H

#include <signal.h>

/* Set by the monitor's SIGWINCH handler; the relay passes the new size on. */
extern volatile sig_atomic_t terminal_window_changed;

/* Init side (OP_TERMINAL): open a pty in the container's devpts as stdio; send the master. */
int op_terminal(int sync_fd);
/* Monitor side: relay stdin/stdout <-> the master until it hangs up. */
struct log_file;
/* log: where the container's output is kept as well (a foreground -t run), or NULL. */
void terminal_relay(int master, int raw, struct log_file *log);

/* OCI --console-socket: connect (a socket fd, or -errno), then send the master with the pty's size (when rows/cols > 0). */
int terminal_connect_socket(const char *path);
int terminal_send_master(int sock, int master, unsigned rows, unsigned cols);

#endif
