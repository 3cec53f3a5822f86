// Reaching into a container's network namespace from the host.
//
// A netlink socket stays in the namespace it was created in. So we switch the
// main thread into the container's namespace, open the socket, and switch
// straight back, all synchronously: no await, no callback, nothing else of
// ours runs on this thread while it is in the container's namespace. The
// socket then configures the container's links from the host, and nothing
// (no `ip`, no shell) is needed inside the image.

import { closeSync, openSync, statSync } from "node:fs";
import { DiycError, SyscallError } from "../linux/errors";
import { CLONE } from "../linux/namespaces";
import { linuxSyscalls } from "../linux/syscalls";
import { NetlinkSocket } from "./netlink";

// thread-self, not self: setns changes the calling thread only, and that is
// the namespace we must return to.
const OWN_NETNS = "/proc/thread-self/ns/net";

export function netnsPath(pid: number): string {
  return `/proc/${pid}/ns/net`;
}

/**
 * Refuses a pid that shares our network namespace: configuring "its" eth0
 * would reconfigure the host.
 */
export function assertOwnNetns(pid: number): void {
  const theirs = statSync(netnsPath(pid));
  const ours = statSync(OWN_NETNS);
  if (theirs.ino === ours.ino && theirs.dev === ours.dev) {
    throw new DiycError(`network: pid ${pid} shares the host's network namespace; refusing to configure it`);
  }
}

/** A NETLINK_ROUTE socket bound to the network namespace of `pid`. */
export function openNetlinkIn(pid: number): NetlinkSocket {
  const home = openSync(OWN_NETNS, "r");
  try {
    const target = openSync(netnsPath(pid), "r");
    try {
      linuxSyscalls.setns(target, CLONE.NEWNET, netnsPath(pid));
    } finally {
      closeSync(target);
    }
    let sock: NetlinkSocket;
    try {
      sock = NetlinkSocket.open();
    } finally {
      try {
        linuxSyscalls.setns(home, CLONE.NEWNET, OWN_NETNS);
      } catch (err) {
        // Practically impossible (we hold an fd to our own namespace). Should it
        // happen, this thread stays in the container's namespace: the error (the
        // setns call, its errno and path) goes up to end the command, and undo
        // steps on the way would act on the container's network, not the host's
        // (host records they free may then outlive their rules).
        if (err instanceof SyscallError) throw err;
        throw new DiycError(`cannot return to the host network namespace: ${String(err)}`, undefined, { cause: err });
      }
    }
    return sock;
  } finally {
    closeSync(home);
  }
}
