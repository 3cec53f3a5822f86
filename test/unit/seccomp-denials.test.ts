// Reading the kernel's seccomp audit records (what -v reports).

import { expect, test } from "bun:test";
import { parseSeccompRecord } from "../../src/seccomp/denials";

test("an audit record of type 1326 names the pid, the command, the call and the action", () => {
  const text = 'audit: type=1326 audit(1796201227.699:5): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=27756 comm="unshare" exe="/bin/busybox" sig=0 arch=c000003e syscall=272 compat=0 ip=0x4815c7 code=0x50000';
  expect(parseSeccompRecord(text)).toEqual({ pid: 27756, command: "unshare", syscall: "unshare", action: "refused with an errno" });
  expect(parseSeccompRecord(text.replace("code=0x50000", "code=0x80000000"))?.action).toBe("killed the process");
  expect(parseSeccompRecord(text.replace("syscall=272", "syscall=999"))?.syscall).toBe("syscall 999");
  expect(parseSeccompRecord("drl9: port 1(veth) entered disabled state")).toBeUndefined();
});
