// The two kernel switches networking needs, under /proc/sys/net/ipv4:
//   ip_forward                 the host routes between the bridge and its uplink
//                              (containers reaching outside, published ports
//                              reached from outside);
//   conf/BRIDGE/route_localnet lets a packet with a 127.0.0.1 source leave
//                              through the bridge, so a port published on the
//                              host's localhost reaches the container (the
//                              source is then masqueraded, see nftables.ts).
// The procfs root is a parameter so a test can point it elsewhere.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DiycError } from "../linux/errors";

export const PROC_SYS_NET = "/proc/sys/net/ipv4";

function sysctlError(op: string, path: string, err: unknown): DiycError {
  const code = (err as NodeJS.ErrnoException).code ?? "error";
  return new DiycError(`sysctl ${op} ${path}: ${(err as Error).message} (${code})`, undefined, { cause: err });
}

export function readSysctl(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw sysctlError("read", path, err);
  }
}

export function writeSysctl(path: string, value: string): void {
  try {
    writeFileSync(path, value + "\n");
  } catch (err) {
    throw sysctlError("write", path, err);
  }
}

export function ipForwardPath(root = PROC_SYS_NET): string {
  return join(root, "ip_forward");
}

export function routeLocalnetPath(bridge: string, root = PROC_SYS_NET): string {
  return join(root, "conf", bridge, "route_localnet");
}
