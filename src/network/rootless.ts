// Networking for rootless containers. An ordinary user can make no bridge,
// veth or NAT rule on the host, so a rootless container that asks for a
// network of its own (--net bridge, -p) gets pasta(1) (Debian package passt),
// as rootless podman does: pasta joins the container's user and network
// namespaces, makes a tap device there (eth0, given the host's address and
// routes), and carries the container's traffic through ordinary sockets of
// the user's on the host. Published ports are pasta's listening sockets.
//
// pasta runs in the background (it forks once set up) and does not notice
// when the container's namespace goes away, so the runtime stops it at
// clean-up. It writes its pid into the container's directory (-P): that
// file, with pasta's command line naming it, identifies the very process,
// even after a crash between pasta's start and our own records.
//
// --net none still needs lo up: the user is root in the container's user
// namespace, and nsenter(1) enters that first, then the network namespace.

import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { DiycError, UsageError } from "../linux/errors";
import { removeIfExists } from "./claim";
import { claimPorts, formatPublish, releasePorts, type PortClaim, type PortMapping } from "./ports";
import { storeField } from "./ipam";
import { HostPorts } from "./listening";
import { runTool } from "../linux/rootless";
import { identify, isAlive } from "../linux/process-identity";
import type { Log } from "../linux/trace";
import type { Store } from "../store/store";


const PASTA = "/usr/bin/pasta";
const NSENTER = "/usr/bin/nsenter";
const IP = "/sbin/ip";
const TUN = "/dev/net/tun";
/** The network name port claims of rootless containers are recorded under (the store's own registry). */
export const PASTA_NETWORK = "pasta";
/** How long pasta gets to exit after SIGTERM before SIGKILL. */
const PASTA_STOP_MS = 1000;

/** --net none: lo up in the container's namespace, entered through its user namespace. */
export function bringUpLoopbackAsOwner(pid: number, log: Log): void {
  const result = runTool([NSENTER, `--target=${pid}`, "--user", "--net", "--preserve-credentials", IP, "link", "set", "lo", "up"]);
  if (result.exitCode !== 0) throw new DiycError(`set lo up in the network namespace of pid ${pid} (nsenter --user --net): ${result.error}`);
  log(`nsenter --user --net --target ${pid}: set lo up`);
}

/** The -t/-u option pasta takes for a published port: [ADDRESS/]HOSTPORT:CONTAINERPORT. */
export function pastaPortOption(p: PortMapping): string[] {
  return [p.protocol === "tcp" ? "-t" : "-u", `${p.hostIp === undefined ? "" : `${p.hostIp}/`}${p.hostPort}:${p.containerPort}`];
}

export interface PastaAttachment {
  publish: PortClaim[];
}

/**
 * Starts pasta for the container whose init is `pid`, with its ports. Port
 * numbers are claimed in the store's registry first (`-p 80` picks a free
 * one), so two containers never ask pasta for the same one.
 */
export function attachWithPasta(
  store: Store, request: { container: string; pid: number; publish: PortMapping[]; pidFile: string }, log: Log,
): PastaAttachment {
  if (!existsSync(PASTA)) throw new UsageError(`a rootless container's network needs ${PASTA} (Debian package passt)`);
  try {
    accessSync(TUN, constants.R_OK | constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new UsageError(`a rootless container's network needs ${TUN} usable by you (mode 0666, as Debian's udev makes it): access ${TUN}: ${code}`);
  }
  const wanted: PortClaim[] = request.publish.map((p) => ({ ...p, container: request.container, network: PASTA_NETWORK, containerIp: "", ...storeField(store) }));
  const hostPorts = new HostPorts();
  const publish = claimPorts(store, wanted, (p) => hostPorts.isFree(p));
  try {
    const args = [PASTA, "--config-net", "--quiet", "-P", request.pidFile, ...publish.flatMap(pastaPortOption), String(request.pid)];
    log(`${args.join(" ")}: eth0 in pid ${request.pid}'s network namespace${publish.length ? `, publish ${publish.map(formatPublish).join(" ")}` : ""}`);
    const result = runTool(args);
    if (result.exitCode !== 0) throw new DiycError(`pasta for pid ${request.pid}: ${result.error}`);
  } catch (error) {
    stopPasta(request.pidFile, log);
    releasePorts(store, PASTA_NETWORK, request.container);
    throw error;
  }
  return { publish };
}

/** pasta's pid from its pid file, if that process is still the pasta that wrote it. */
function pastaProcess(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv.includes(pidFile) ? pid : undefined;
  } catch {
    return undefined; // gone
  }
}

/** Stops the container's pasta, if it runs, and waits for it (bounded). Idempotent. */
export function stopPasta(pidFile: string, log: Log): void {
  const pid = pastaProcess(pidFile);
  // Its command line is gone while it exits, so the pid file cannot identify it any more: its
  // identity (pid and start time) does, so that a reused pid is never signalled.
  const pasta = pid === undefined ? undefined : identify(pid);
  if (pasta) {
    log(`stop pasta (pid ${pasta.pid})`);
    signal(pasta.pid, "SIGTERM");
    // Until it has exited (a zombie counts: pasta is a daemon, init reaps it whenever it does).
    const deadline = Date.now() + PASTA_STOP_MS;
    while (isAlive(pasta) && Date.now() < deadline) Bun.sleepSync(2);
    if (isAlive(pasta)) signal(pasta.pid, "SIGKILL");
  }
  removeIfExists(pidFile);
}

function signal(pid: number, name: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

/** After the exit: pasta stopped, the ports given back. */
export function detachPasta(store: Store, container: string, pidFile: string, log: Log): void {
  stopPasta(pidFile, log);
  releasePorts(store, PASTA_NETWORK, container);
}

