/*
 * The protocol between diyc (Bun), the helper (monitor) and the container's
 * init. Every message is one fixed-size struct sync_msg on a stream socket.
 * src/runtime/helper-channel.ts holds the same numbers.
 *
 * Bun cannot clone into new namespaces itself: it is multi-threaded before its
 * first statement (docs/namespaces.md, "Why a C helper"). So it spawns this helper, which
 * is single-threaded, and drives it step by step:
 *
 *   diyc (Bun)                    helper = monitor                init (child)
 *   ----------                    ----------------                ------------
 *   spawn helper, fd 3 = socket
 *   PLAN (u32 len + bytes)  --->  decode, setns/clone  ------->   blocks on sync
 *                          <---   PID(host pid of init)
 *   uid/gid maps, cgroup,
 *   network (veth into netns)
 *   CONTINUE                --->  relay  --------------------->   run ops 0..k
 *                                                                 (mount, pivot_root,
 *                                                                  hostname, caps...)
 *                                 keep the pty master <--------   TERMINAL + fd (with -t)
 *                          <---   relay  <---------------------   READY  (or ERROR(i, errno))
 *   ... "created": the init waits, fully set up ...
 *   START                   --->  relay  --------------------->   the last op: execve
 *                          <---   STARTED <--- EOF on sync fd     (close-on-exec: execve worked)
 *                          <---   or ERROR(i, errno) <---------   (execve failed)
 *                                 waitpid(init), forward signals
 *                          <---   EXIT(wait status)
 *   cleanup (cgroup, network,
 *   --rm)
 *   DONE                    --->  exit
 *   exit with status
 *
 * A foreground run whose EXIT has not come 50 ms after STARTED execve's
 * diyc-wait (wait.c) in its own process: the socket and the pid stay, and
 * diyc-wait reads the EXIT and execs `diyc _finish`, which sends DONE. The
 * helper sees the same socket and the same words (docs/helper-protocol.md).
 *
 * Whoever dies, the cleanup happens once:
 * - diyc gives up on purpose (a step failed): it sends ABORT, undoes what it
 *   made itself, and the helper kills the init and exits.
 * - diyc is gone (EOF instead of its next word: killed, or a detached
 *   container's diyc that returned): the helper kills the init if it had not
 *   started, or waits for it, and then runs the plan's cleanup hook (diyc
 *   _cleanup NAME) - also when diyc died after EXIT but before DONE, so a
 *   --rm container is removed whoever dies.
 * - the helper is gone: the init has PR_SET_PDEATHSIG(SIGKILL) and dies too;
 *   `ps` reads the facts (no live monitor, no exit record) as "monitor lost".
 *
 * bin/diyc-oci (the OCI runtime; the caller, conmon or the containerd
 * shim, is the monitor and a subreaper) changes two rungs. With
 * OP_START_FIFO the barrier is a FIFO in the state directory, so that a
 * later `diyc-oci start` process can release the init:
 *
 *   diyc-oci create               helper                          init
 *   open the fifo (O_PATH) <----  (the fd is inherited by clone)
 *   ...PID, CONTINUE as above...
 *                                 pty master -> --console-socket  TERMINAL + fd
 *                          <---   relay  <---------------------   READY, then open the fifo
 *   write pid file, exit          exit: the init's parent is now   for writing (blocks)
 *                                 the caller's subreaper
 *   diyc-oci start: open the fifo for reading -------------------> unblocks, writes one byte,
 *                   read the byte                                  execve
 *
 * With OP_LEAVE (exec --detach) the helper exits once STARTED is sent: the
 * exec'd process is reparented to the caller, which waits for it.

 */
#ifndef DIYC_PROTOCOL_H
#define DIYC_PROTOCOL_H

#include <stdint.h>

#define HELPER_SOCKET_FD 3
/* OCI --preserve-fds: the caller's fds 3..3+N-1 arrive as the helper's HELPER_PRESERVED_FD.. (plan-ops.h). */

enum sync_type {
	/* diyc -> helper -> init */
	SYNC_CONTINUE = 1, /* parent-side set-up is done: run the plan */
	SYNC_START = 2,    /* exec the command */
	/* diyc -> helper */
	SYNC_ABORT = 3,    /* diyc gives up and undoes its own steps: kill the init, no cleanup hook */
	SYNC_DONE = 4,     /* after EXIT: diyc has cleaned up; the helper may exit without the hook */
	SYNC_MOUNT_FD = 13, /* helper -> init, before CONTINUE: a detached (idmapped) mount (SCM_RIGHTS), in plan order */
	/* init -> helper -> diyc */
	SYNC_READY = 10,   /* every op before AWAIT_START succeeded */
	SYNC_ERROR = 11,   /* op `a` failed with errno `b` (the init's, or the helper's own: clone, setsid, setns) */
	SYNC_TERMINAL = 12, /* carries the pty master (SCM_RIGHTS); the helper keeps it, diyc is not told */
	/* helper -> diyc */
	SYNC_PID = 20,     /* a = host pid of the init */
	SYNC_STARTED = 21, /* execve succeeded */
	SYNC_EXIT = 22,    /* a = wait status of the init */
	SYNC_HELPER_ERROR = 23, /* the helper itself failed: a = step (enum helper_step), b = errno */
};

/* Steps of the helper's own that can fail, for SYNC_HELPER_ERROR. */
enum helper_step {
	HELPER_READ_PLAN = 1,
	HELPER_DECODE_PLAN = 2,
	HELPER_CLONE = 3,
	HELPER_SOCKETPAIR = 4,
	HELPER_PIPE = 5,
	HELPER_INIT_VANISHED = 6, /* the init ended during set-up without a word (errno ESRCH) */
	HELPER_CONSOLE_SOCKET = 7, /* connect or send to the OCI --console-socket */
	HELPER_RELAY_FROM_INIT = 8, /* reading the init's messages failed (b = errno; EIO: half a message) */
};

struct sync_msg {
	uint32_t type;
	int32_t a;
	int32_t b;
	int32_t c;
};

#endif
