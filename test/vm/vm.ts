// Boots the cgroup v2 test VM and collects what its guest tests report.
//
// qemu (TCG: this host's /dev/kvm cannot boot a stock kernel) boots the
// kernel and initramfs of ./image.ts with cgroup_no_v1=all, so the guest is a
// pure cgroup v2 machine. The checkout is shared read-only over 9p at its own
// path; test/vm/init.sh runs `bun test` on GUEST_TEST_FILES there and prints
// the JUnit report on the serial console (qemu's stdout here) between two
// marker lines, in base64. The VM has no network device.
//
// Run it alone (prints the console as it comes; exit status = the guest's):
//   bun test/vm/vm.ts [TEST-NAME-FILTER]
//   bun test/vm/vm.ts --script FILE     (a shell script of the checkout, run as root in the VM)

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, VM_CACHE, ensureVmImage, type VmImage } from "./image";

export const QEMU = "qemu-system-x86_64";

/**
 * What `bun test` runs in the VM: the v2 suite written for it, and
 * run.test.ts, whose containers each get a v2 cgroup and the device program,
 * and which checks that nothing is left after them. The other integration
 * files need what the VM does not have (nft and a network for the network
 * tests, python3 for terminal.test.ts), test no cgroups (nsexec, image
 * import), are v1's (limits.test.ts), or wait on wall-clock deadlines an
 * emulated CPU misses when the host is busy (lifecycle.test.ts: its restart
 * backoff test failed that way; its cgroup paths, stop/start and restarts,
 * are in the guest suite with longer waits).
 */
export const GUEST_TEST_FILES = [
  "./test/vm/guest/cgroups-v2.guest.ts",
  "./test/integration/run.test.ts",
];

/** The guest's watchdog powers the VM off after this long, even if nobody is left to kill qemu. */
export const GUEST_WATCHDOG_SECONDS = 600;

/** The kernel command line: a pure v2 host, quiet so the console holds the tests' output. */
export function kernelCommandLine(repo: string, filter?: string, script?: string): string {
  const words = [
    "console=ttyS0", "quiet", "loglevel=3", "panic=-1",
    // No v1 controller at all; systemd's own switch, harmless without systemd.
    "cgroup_no_v1=all", "systemd.unified_cgroup_hierarchy=1",
    // Parameters without a dot reach init as environment variables.
    `diyc_repo=${repo}`,
    `diyc_tests=${GUEST_TEST_FILES.join(",")}`,
    `diyc_timeout=${GUEST_WATCHDOG_SECONDS}`,
  ];
  if (filter) words.push(`diyc_filter="${filter.replace(/["\\]/g, "")}"`);
  if (script) words.push(`diyc_script=${script}`);
  return words.join(" ");
}

export function qemuArgs(image: VmImage, repo: string, filter?: string, script?: string): string[] {
  return [
    QEMU,
    "-accel", "tcg,thread=multi",
    // "max" has what Bun's build needs (AVX2) under TCG.
    "-cpu", "max", "-smp", "2", "-m", "2048",
    "-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot",
    "-serial", "stdio",
    "-kernel", image.kernel.vmlinuz, "-initrd", image.initramfs,
    "-append", kernelCommandLine(repo, filter, script),
    "-virtfs", `local,path=${repo},mount_tag=repo,security_model=none,readonly=on`,
  ];
}

/**
 * Why the VM cannot run here, or undefined if it can. Host root is not needed:
 * qemu under TCG runs as anyone, and the guest is root in its own kernel.
 */
export function vmUnavailable(): string | undefined {
  if (!Bun.which(QEMU)) return `${QEMU} is not installed (apt-get install qemu-system-x86; ./setup does it)`;
  return undefined;
}

export interface GuestResult {
  /** The test file, relative to the checkout ("test/integration/run.test.ts"). */
  file: string;
  /** "describe > test", or just the test's name outside any describe. */
  key: string;
  status: "pass" | "fail" | "skip";
  /** The failure's text, for a failed test. */
  failure?: string;
  seconds: number;
}

export interface VmOutcome {
  /** qemu's exit status (0 after the guest's poweroff). */
  exitCode: number | null;
  console: string;
  /** The guest's results, undefined if no JUnit report came out. */
  results?: GuestResult[];
  /** Seconds from qemu's start to the guest's "VM| ready" line (init done, tests about to start). */
  bootSeconds?: number;
  totalSeconds: number;
}

export interface RunningVm {
  pid: number;
  outcome: Promise<VmOutcome>;
  /** SIGKILL to qemu, by its pid, if it still runs. */
  kill: () => void;
}

const BEGIN = "VM-JUNIT-BEGIN";
const END = "VM-JUNIT-END";

export interface VmOptions {
  image?: VmImage;
  /** The checkout to share (default: this one). */
  repo?: string;
  /** Only the guest tests whose names match (bun test -t). */
  filter?: string;
  /** A shell script (path relative to the checkout) to run instead of the tests. */
  script?: string;
  onConsole?: (text: string) => void;
  /** qemu is killed after this long (default 10 minutes). */
  timeoutMs?: number;
}

export function startVm(options: VmOptions = {}): RunningVm {
  const image = options.image ?? ensureVmImage();
  const repo = options.repo ?? REPO;
  const started = performance.now();
  const proc = Bun.spawn(qemuArgs(image, repo, options.filter, options.script), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let text = "";
  let bootSeconds: number | undefined;
  const kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {
        // it has just exited
      }
    }
  };
  const timer = setTimeout(kill, options.timeoutMs ?? 10 * 60_000);
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true }).replace(/\r/g, "");
      text += piece;
      if (bootSeconds === undefined && text.includes("VM| ready")) bootSeconds = (performance.now() - started) / 1000;
      options.onConsole?.(piece);
    }
  };
  const outcome = (async (): Promise<VmOutcome> => {
    await Promise.all([read(proc.stdout as ReadableStream<Uint8Array>), read(proc.stderr as ReadableStream<Uint8Array>)]);
    const exitCode = await proc.exited;
    clearTimeout(timer);
    const totalSeconds = (performance.now() - started) / 1000;
    // Kept for reading after a failure; build/vm is ignored by git.
    if (existsSync(VM_CACHE)) writeFileSync(join(VM_CACHE, "console.log"), text);
    return { exitCode, console: text, results: junitFromConsole(text), bootSeconds, totalSeconds };
  })();
  return { pid: proc.pid, outcome, kill };
}

/** The base64 lines between the markers, decoded and parsed; undefined when the report is missing. */
export function junitFromConsole(text: string): GuestResult[] | undefined {
  const begin = text.indexOf(`${BEGIN}\n`);
  const end = text.indexOf(`\n${END}`, begin);
  if (begin < 0 || end < 0) return undefined;
  const encoded = text.slice(begin + BEGIN.length + 1, end).replace(/\s+/g, "");
  if (encoded === "") return undefined;
  return parseJunit(Buffer.from(encoded, "base64").toString("utf8"));
}

const unescapeXml = (s: string) =>
  s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");

const attribute = (tag: string, name: string) => {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return match ? unescapeXml(match[1]!) : undefined;
};

/** bun test's JUnit report → one result per <testcase> (classname is the enclosing describe). */
export function parseJunit(xml: string): GuestResult[] {
  const results: GuestResult[] = [];
  for (const match of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const head = match[1]!;
    const body = match[3] ?? "";
    const name = attribute(head, "name") ?? "?";
    const classname = attribute(head, "classname") ?? "";
    const failure = /<failure\b[^>]*>([\s\S]*?)<\/failure>/.exec(body) ?? /<failure\b([^>]*)\/>/.exec(body);
    const status = failure ? "fail" : /<skipped\b/.test(body) ? "skip" : "pass";
    results.push({
      file: (attribute(head, "file") ?? "").replace(/^\.\//, ""),
      key: classname ? `${classname} > ${name}` : name,
      status,
      failure: failure ? unescapeXml(failure[1]!) : undefined,
      seconds: Number(attribute(head, "time") ?? 0),
    });
  }
  return results;
}

if (import.meta.main) {
  const reason = vmUnavailable();
  if (reason) {
    console.error(`vm: ${reason}`);
    process.exit(125);
  }
  const args = process.argv.slice(2);
  const script = args[0] === "--script" ? args[1] : undefined;
  const vm = startVm({ filter: script ? undefined : args[0], script, onConsole: (t) => process.stdout.write(t) });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => vm.kill());
  const outcome = await vm.outcome;
  const failed = outcome.results?.filter((r) => r.status === "fail") ?? [];
  console.log(`\nvm: qemu exit ${outcome.exitCode}; ready after ${outcome.bootSeconds?.toFixed(1) ?? "?"} s, ` +
    `${outcome.totalSeconds.toFixed(1)} s in all; ${outcome.results?.length ?? 0} results, ${failed.length} failed`);
  if (script) process.exit(outcome.console.includes("VM| script exit 0\n") ? 0 : 1);
  process.exit(outcome.results === undefined || failed.length > 0 ? 1 : 0);
}
