// What ps and inspect show about a container, worked out from its files and
// from the live processes (status.ts), never from a cached word.

import { DiycError } from "../linux/errors";
import { readConfig, readState, type ContainerConfig, type ContainerState } from "./container";
import { listContainerNames } from "./list";
import { containerExists, containerStatus, type Status } from "./status";
import type { Store } from "../store/store";

export interface ContainerView {
  name: string;
  /** null for a container whose create never finished (no container.json): see `incomplete`. */
  image: string | null;
  command: string;
  /** The command's arguments, as given (process.args). */
  args: string[];
  status: Status;
  exitCode: number | null;
  oomKilled: boolean;
  /** Host pid of the init while it runs. */
  pid: number | null;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  ip: string | null;
  /** The network it is connected to (a bridge network's name, or "none"); null for the host's. */
  network: string | null;
  /** Published ports while it runs, "[HOSTIP:]HOSTPORT:CTRPORT/PROTO". */
  ports: string[];
  restartCount: number;
  /** Exited because its monitor died: no exit status was recorded. */
  monitorLost: boolean;
  /** Between two runs of a restart policy. */
  restarting: boolean;
  /**
   * A create died before it wrote container.json: the directory holds only
   * part of a container (overlay directories, /etc files, a temporary file).
   * Listed so that it can be seen and removed (rm -f), or run again.
   */
  incomplete: boolean;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** What there is to say about a directory a killed create left behind. */
function incompleteView(name: string): ContainerView {
  return {
    name, image: null, command: "", args: [], status: "exited", exitCode: null, oomKilled: false, pid: null,
    createdAt: null, startedAt: null, finishedAt: null, ip: null, network: null, ports: [], restartCount: 0, monitorLost: false, restarting: false, incomplete: true,
  };
}

/** container.json is renamed in whole, so an unreadable one was damaged outside diyc: incomplete too, so rm -f can remove it. */
function readConfigOrIncomplete(store: Store, name: string): ContainerConfig | undefined {
  try {
    return readConfig(store, name);
  } catch (error) {
    // Not valid JSON (readJsonIfExists says so with a DiycError): written by hand or
    // damaged; rm -f removes it. A failing read (EACCES, EIO) is an error of its own.
    if (error instanceof DiycError) return undefined;
    throw error;
  }
}

export function describeContainer(store: Store, name: string): ContainerView | undefined {
  if (!containerExists(store, name)) return undefined;
  const config = readConfigOrIncomplete(store, name);
  if (!config) return incompleteView(name);
  const state = readState(store, name);
  const status = containerStatus(store, name);
  return {
    name,
    image: config.image,
    command: config.spec.process.args.join(" "),
    args: config.spec.process.args,
    status: status.status,
    exitCode: status.exitCode ?? null,
    oomKilled: state?.oomKilled ?? false,
    pid: status.pid ?? null,
    createdAt: iso(config.createdAtMs),
    startedAt: iso(state?.startedAtMs),
    finishedAt: iso(status.finishedAtMs),
    // An address is the container's only while it runs: an exited container's may be leased again.
    ip: status.status === "exited" ? null : config.network?.ip ?? null,
    network: config.network?.network ?? config.network?.mode ?? null,
    ports: status.status === "exited" ? [] : config.network?.publish ?? [],
    restartCount: state?.restartCount ?? 0,
    monitorLost: status.monitorLost ?? false,
    restarting: status.restarting ?? false,
    incomplete: false,
  };
}

export function listContainers(store: Store): ContainerView[] {
  return listContainerNames(store).map((name) => describeContainer(store, name)).filter((v): v is ContainerView => v !== undefined);
}

export interface InspectView extends ContainerView {
  /** null for an incomplete container (its create never wrote container.json). */
  config: ContainerConfig | null;
  state: ContainerState | null;
}

export function inspectContainer(store: Store, name: string): InspectView | undefined {
  const view = describeContainer(store, name);
  if (!view) return undefined;
  if (view.incomplete) return { ...view, config: null, state: null };
  return { ...view, config: readConfig(store, name)!, state: readState(store, name) ?? null };
}
