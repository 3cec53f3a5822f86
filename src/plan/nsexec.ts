// The plan for `nsexec`: a host command in new namespaces (the seed's tool).
// No image and no pivot_root: the command sees the host's files, through a
// private mount namespace so that the /proc remount stays inside.

import { CLONE } from "../linux/namespaces";
import { describeClone, launchOps } from "./compile";
import { MS } from "./mount-options";
import { settingsFirst, type Op, type Plan } from "./ops";

export interface NsexecOptions {
  pid: boolean;
  net: boolean;
  uts: boolean;
  hostname?: string;
  ipc: boolean;
  user: boolean;
  cgroup: boolean;
  command: string[];
  env: string[];
  cwd: string;
}

export function nsexecCloneFlags(o: NsexecOptions): number {
  let flags = CLONE.NEWNS; // always: the /proc remount and private propagation need it
  if (o.pid) flags |= CLONE.NEWPID;
  if (o.net) flags |= CLONE.NEWNET;
  if (o.uts) flags |= CLONE.NEWUTS;
  if (o.ipc) flags |= CLONE.NEWIPC;
  if (o.user) flags |= CLONE.NEWUSER;
  if (o.cgroup) flags |= CLONE.NEWCGROUP;
  return flags;
}

export function compileNsexecPlan(o: NsexecOptions): Plan {
  const flags = nsexecCloneFlags(o);
  const ops: Op[] = [
    { code: "Clone", args: [flags], describe: describeClone(flags) },
    { code: "Mount", args: ["", "/", "", MS.REC | MS.PRIVATE, ""], describe: "make / private, recursively" },
  ];
  if (o.pid) {
    ops.push({ code: "Mount", args: ["proc", "/proc", "proc", MS.NOSUID | MS.NODEV | MS.NOEXEC, ""], describe: "mount proc on /proc (this pid namespace's view)" });
  }
  if (o.uts && o.hostname !== undefined) {
    ops.push({ code: "Sethostname", args: [o.hostname], describe: `sethostname ${o.hostname}` });
  }
  // nsexec runs the host command with the caller's own privileges, as the
  // seed's nsexec did: no capability or id steps, only the launch. It is the
  // user's own host command, not a container, so it keeps the user's
  // terminal (an interactive shell needs it); paths are looked up from /.
  ops.push(
    { code: "OpenRoot", args: ["/"], describe: "open / as the root for paths" },
    ...launchOps({ args: o.command, env: o.env, cwd: o.cwd }),
  );
  return settingsFirst(ops);
}
