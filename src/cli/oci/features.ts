// diyc-oci features: what this runtime supports, as the runtime-spec's features document (features.md).

import { SECCOMP_ACTIONS, SECCOMP_OPERATORS } from "../../spec/oci";
import { CAPABILITIES } from "../../linux/capabilities";
import type { OciCommand } from "./context";

export function featuresDocument() {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.1.0",
    hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
    mountOptions: [
      "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "noatime", "nodev", "nodiratime", "noexec",
      "nosuid", "private", "rbind", "relatime", "ridmap", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave",
      "strictatime", "suid", "sync", "unbindable",
    ],
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS].sort(),
        operators: [...SECCOMP_OPERATORS].sort(),
        archs: ["SCMP_ARCH_X86_64"],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { "org.opencontainers.runc.checkpoint.enabled": "false", "io.github.diyc.runtime": "diyc-oci" },
  };
}

export const features: OciCommand = async (_args, cli) => {
  cli.print(JSON.stringify(featuresDocument(), null, 2));
  return 0;
};
