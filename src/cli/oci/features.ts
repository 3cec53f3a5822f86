// diyc-oci features: what this runtime supports, as the runtime-spec's features document (features.md).

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
        actions: ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
        operators: ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
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
