// Container networking end to end through `bin/diyc run` (root, the real
// kernel): containers on a network of the test's own reach each other by
// address and by name, the host reaches them and their published ports, a
// client's address survives DNAT, `--net none` has only lo, 20 containers
// started at once get 20 addresses, a killed `diyc run` is cleaned up by the
// monitor, and bad input is refused with 125 before anything is made.
//
// Network safety: the file uses its own store, its own bridge (dnt????) on a
// free 10.213.X.0/24, containers attached only with `--net` to that bridge,
// and one "outside" namespace on a veth of its own (10.213.Y.0/30) standing in
// for a remote client. Traffic goes only to those. At the end: `network clean`
// and proof that no link, veth, nft table, lease, port claim, process or mount
// is left.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseIpv4 } from "../../src/network/ipv4";
import { formatMac, macForIpv4, macForName } from "../../src/network/mac";
import { hostVethName } from "../../src/network/veth";
import {
  DIYC, diyc, isRoot, mountsUnder, pidsFromTrace, processExists, removeStore, tempStore, until, type Result,
} from "../helpers/diyc";

const canRun = isRoot && existsSync("/usr/sbin/nft") && existsSync("/bin/busybox");
const describeRoot = canRun ? describe : describe.skip;

const ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

function sh(argv: string[]): Result {
  const p = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

const hostLinks = () => sh(["ip", "-o", "link"]).stdout;
const nftTables = () => sh(["nft", "list", "tables"]).stdout;

function random(n: number): number {
  return Math.floor(Math.random() * n);
}

/** A 10.213.X.0/24 that no address or route on the host uses. */
function freeOctet(avoid: number[] = []): number {
  const used = sh(["ip", "-o", "addr"]).stdout + sh(["ip", "route"]).stdout;
  for (;;) {
    const x = 1 + random(254);
    if (!avoid.includes(x) && !used.includes(`10.213.${x}.`)) return x;
  }
}

/** A high port nothing on the host listens on (tcp and udp). */
function freePort(avoid: number[] = []): number {
  const listening = ["tcp", "udp", "tcp6", "udp6"].map((p) => readFileSync(`/proc/net/${p}`, "utf8")).join("").toUpperCase();
  for (;;) {
    const port = 20000 + random(20000);
    if (!avoid.includes(port) && !listening.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `)) return port;
  }
}

/** curl from the host, bounded, never through a proxy; retried briefly while a server starts. */
function hostFetch(url: string, attempts = 5): string {
  for (let i = 0; ; i++) {
    const r = sh(["curl", "-s", "--noproxy", "*", "--max-time", "5", url]);
    if (r.code === 0 || i + 1 >= attempts) return r.code === 0 ? r.stdout : `curl failed (${r.code}) ${r.stderr}`;
    Bun.sleepSync(100);
  }
}

const root = tempStore("diyc-runnet-");
const octet = freeOctet();
const bridge = `dnt${Math.random().toString(36).slice(2, 6).padEnd(4, "0")}`;
const subnet = `10.213.${octet}.0/24`;
const prefix = `10.213.${octet}.`;
const gateway = `${prefix}1`;
const table = `diyc_${bridge}`;
const netDir = join(root, "network", bridge);
const leasesDir = join(netDir, "leases");
/** Every container name this file used, for the final veth check. */
const names = new Set<string>();
/** Every `diyc run` this file started. */
const runs: Running[] = [];

function leases(): Record<string, string> {
  if (!existsSync(leasesDir)) return {};
  return Object.fromEntries(readdirSync(leasesDir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
    .map((ip) => [ip, readFileSync(join(leasesDir, ip), "utf8").trim()]));
}

function portClaims(): string[] {
  const dir = join(root, "network", ".ports");
  return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith(".")) : [];
}

function portRules(): string {
  return sh(["nft", "list", "chain", "ip", table, "ports"]).stdout;
}

interface Running {
  name: string;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  stdout: string;
  stderr: string;
  init: number;
  monitor: number;
  done: Promise<void>;
}

/** Starts `diyc run -v --rm OPTIONS NAME busybox CMD...`; returns once the command was exec'd. */
async function start(name: string, options: string[], cmd: string[]): Promise<Running> {
  names.add(name);
  const proc = Bun.spawn([DIYC, "--root", root, "run", "-v", "--rm", ...options, name, "busybox", ...cmd], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...ENV, DIYC_NETWORKS: join(root, "network") },
  });
  const r: Running = { name, proc, stdout: "", stderr: "", init: 0, monitor: 0, done: Promise.resolve() };
  const drain = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) r[key] += decoder.decode(chunk, { stream: true });
  };
  r.done = Promise.all([drain(proc.stdout, "stdout"), drain(proc.stderr, "stderr")]).then(() => {});
  runs.push(r);
  const deadline = Date.now() + 30000;
  while (!r.stderr.includes("HOST| start: exec the command")) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await r.done;
      throw new Error(`${name} did not start (exit ${proc.exitCode}):\n${r.stderr}`);
    }
    await Bun.sleep(10);
  }
  const pids = pidsFromTrace(r.stderr)!;
  r.init = pids.init;
  r.monitor = pids.monitor;
  return r;
}

/** SIGKILLs the container's init (pid 1 ignores SIGTERM) and waits for `diyc run` to finish. */
async function stop(r: Running): Promise<number> {
  try {
    process.kill(r.init, "SIGKILL");
  } catch {
    // already gone
  }
  const code = await r.proc.exited;
  await r.done;
  return code;
}

function ipOf(name: string): string {
  const found = Object.entries(leases()).find(([, holder]) => holder === name);
  if (!found) throw new Error(`${name} holds no lease`);
  return found[0];
}

/**
 * A container's veth pair goes with its network namespace: the kernel deletes
 * it, asynchronously, once the container's last process is gone (diyc does not
 * wait for that; see DetachOptions in src/network/index.ts).
 */
async function vethsGone(containers: Iterable<string>): Promise<void> {
  const veths = [...containers].map(hostVethName);
  await until(() => {
    const links = hostLinks();
    return veths.every((veth) => !links.includes(veth));
  }, 3000, `the kernel to delete ${veths.join(", ")}`);
}

/** Container A's command: its view of its network on stdout, then httpd with a CGI that prints the client's address. */
const WEB = [
  "sh", "-c",
  [
    "mkdir -p /www/cgi-bin",
    "echo hello-from-a > /www/index.html",
    `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/peer`,
    "chmod +x /www/cgi-bin/peer",
    "echo '--addr'; ip -o -4 addr show eth0",
    "echo '--route'; cat /proc/net/route",
    "echo '--mac'; cat /sys/class/net/eth0/address",
    "echo '--lo'; cat /sys/class/net/lo/flags",
    "echo '--end'",
    "exec httpd -f -p 8080 -h /www",
  ].join("; "),
];

/** The address busybox httpd hands its CGI: "[::ffff:10.213.1.2]" for an IPv4 client. */
function peer(text: string): string {
  return text.trim().replace(/^\[(::ffff:)?/, "").replace(/\]$/, "");
}

/** /proc/net/route's little-endian hex for an IPv4 address. */
function routeHex(ip: string): string {
  return ip.split(".").reverse().map((n) => Number(n).toString(16).toUpperCase().padStart(2, "0")).join("");
}

describeRoot("diyc run on a network of its own", () => {
  const aIp = `${prefix}30`;
  const aName = `a${random(1e6)}`;
  const loPort = freePort();
  const gwPort = freePort([loPort]);
  let a: Running;
  /** The gateway's MAC address right after setup, before any container. */
  let gatewayMac = "";
  const bridgeMac = () => readFileSync(`/sys/class/net/${bridge}/address`, "utf8").trim();

  beforeAll(async () => {
    expect(sh(["ip", "-o", "addr"]).stdout).not.toContain(prefix);
    const setup = diyc(root, ["network", "setup", "--bridge", bridge, "--subnet", subnet]);
    expect(setup).toMatchObject({ code: 0, stderr: "" });
    gatewayMac = bridgeMac();
    // Fixed at creation, from the bridge's name (src/network/mac.ts).
    expect(gatewayMac).toBe(formatMac(macForName(bridge)));
    a = await start(aName, ["--net", bridge, "-i", aIp, "-p", `127.0.0.1:${loPort}:8080`, "-p", `${gateway}:${gwPort}:8080`], WEB);
    await until(() => a.stdout.includes("--end\n"), 5000, "A's report of its network");
    expect(hostFetch(`http://${aIp}:8080/`, 50)).toBe("hello-from-a\n");
  }, 60000);

  afterAll(async () => {
    for (const r of runs) if (r.proc.exitCode === null) await stop(r);
    try {
      const clean = diyc(root, ["network", "clean", "--bridge", bridge]);
      expect(clean).toMatchObject({ code: 0, stderr: "" });
      const links = hostLinks();
      expect(links).not.toContain(bridge);
      for (const name of names) expect(links).not.toContain(hostVethName(name));
      expect(nftTables()).not.toContain(table);
      expect(existsSync(netDir)).toBe(false);
      expect(portClaims()).toEqual([]);
      expect(readdirSync(join(root, "containers"))).toEqual([]);
      for (const r of runs) {
        expect(processExists(r.init)).toBe(false);
        expect(processExists(r.monitor)).toBe(false);
      }
      expect(sh(["ip", "-o", "addr"]).stdout).not.toContain(prefix);
      expect(mountsUnder(root)).toEqual([]);
      removeStore(root);
    } finally {
      // Even when a check above failed, the store goes unless something is still mounted in it.
      if (mountsUnder(root).length === 0) rmSync(root, { recursive: true, force: true });
    }
  }, 60000);

  test("inside A: eth0 has the address, a default route via the gateway, lo is up", () => {
    const out = a.stdout.slice(0, a.stdout.indexOf("--end"));
    expect(out).toContain(`eth0    inet ${aIp}/24`);
    const route = out.split("\n").filter((l) => l.startsWith("eth0\t"));
    // Iface Destination Gateway Flags: default (0.0.0.0) via the gateway, UG (0003); the connected route.
    expect(route.some((l) => l.split("\t").slice(0, 4).join(" ") === `eth0 00000000 ${routeHex(gateway)} 0003`)).toBe(true);
    expect(route.some((l) => l.split("\t").slice(0, 2).join(" ") === `eth0 ${routeHex(prefix + "0")}`)).toBe(true);
    // eth0's MAC comes from its address, the host end's from its name.
    const mac = out.split("--mac\n")[1]!.split("\n")[0]!;
    expect(mac).toBe(formatMac(macForIpv4(parseIpv4(aIp)!)));
    expect(readFileSync(`/sys/class/net/${hostVethName(aName)}/address`, "utf8").trim()).toBe(formatMac(macForName(hostVethName(aName))));
    // IFF_UP (0x1) in lo's flags.
    expect(Number(out.split("--lo\n")[1]!.split("\n")[0]) & 1).toBe(1);
    // The host end is a port of our bridge, and the trace shows every step.
    expect(sh(["ip", "-o", "link", "show", "dev", hostVethName(aName)]).stdout).toContain(`master ${bridge}`);
    expect(a.stderr).toContain(`HOST| lease ${aIp}/24 on network ${bridge} for ${aName}`);
    expect(a.stderr).toContain(`HOST| netns ${a.init}: add default route via ${gateway} dev eth0`);
    expect(leases()).toEqual({ [aIp]: aName });
  }, 30000);

  test("B (automatic address) fetches A by address and by name; the host by address and on the published port", async () => {
    names.add("bfetch");
    const b = diyc(root, ["run", "--rm", "--net", bridge, "bfetch", "busybox", "sh", "-c",
      `ip -o -4 addr show eth0; cat /etc/hosts; wget -q -O - http://${aIp}:8080/; grep -qw ${aName} /etc/hosts && wget -q -O - http://${aName}:8080/`], { env: ENV });
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const bIp = /inet (\S+)\/24/.exec(b.stdout)?.[1];
    expect(bIp).toBe(`${prefix}2`); // the lowest free address: .1 is the gateway
    expect(b.stdout).toContain(`${aIp}\t${aName}\n`);
    expect(b.stdout).toContain(`${bIp}\tbfetch\n`);
    expect(b.stdout.endsWith("hello-from-a\nhello-from-a\n")).toBe(true);
    expect(hostFetch(`http://${aIp}:8080/`)).toBe("hello-from-a\n");
    expect(hostFetch(`http://127.0.0.1:${loPort}/`)).toBe("hello-from-a\n");
    expect(hostFetch(`http://${gateway}:${gwPort}/`)).toBe("hello-from-a\n");
    // B is gone: its lease, its veth, its line in A's hosts file.
    expect(leases()).toEqual({ [aIp]: aName });
    await vethsGone(["bfetch"]);
    expect(readFileSync(join(root, "containers", aName, "hosts"), "utf8")).not.toContain("bfetch");
  }, 60000);

  test("the client's address as A's httpd sees it (CGI REMOTE_ADDR)", async () => {
    names.add("bpeer");
    const b = diyc(root, ["run", "--rm", "--net", bridge, "bpeer", "busybox", "sh", "-c",
      `wget -q -O - http://${aIp}:8080/cgi-bin/peer; wget -q -O - http://${gateway}:${gwPort}/cgi-bin/peer`], { env: ENV });
    expect(b.code).toBe(0);
    const [direct, viaGateway] = b.stdout.trim().split("\n").map(peer);
    // Container to container: no NAT, the real source.
    expect(direct).toBe(`${prefix}2`);
    // Container -> gateway:published port -> container on the same bridge: masqueraded to the gateway (documented).
    expect(viaGateway).toBe(gateway);
    // From the host: its address on the bridge; through 127.0.0.1, masqueraded to the gateway (documented).
    expect(peer(hostFetch(`http://${aIp}:8080/cgi-bin/peer`))).toBe(gateway);
    expect(peer(hostFetch(`http://127.0.0.1:${loPort}/cgi-bin/peer`))).toBe(gateway);

    // A client from outside: a namespace behind a veth of its own (not the bridge) reaching the
    // published port on the gateway address through prerouting's DNAT keeps its address.
    const y = freeOctet([octet]);
    const outerHost = `${bridge}o`;
    const client = Bun.spawn(["unshare", "--net", "/bin/busybox", "sleep", "60"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    try {
      const hostNetns = readlinkSync("/proc/self/ns/net");
      await until(() => readlinkSync(`/proc/${client.pid}/ns/net`) !== hostNetns, 5000, "the client namespace");
      expect(sh(["ip", "link", "add", outerHost, "type", "veth", "peer", "name", "eth0", "netns", String(client.pid)]).code).toBe(0);
      expect(sh(["ip", "addr", "add", `10.213.${y}.1/30`, "dev", outerHost]).code).toBe(0);
      expect(sh(["ip", "link", "set", outerHost, "up"]).code).toBe(0);
      const inClient = (...argv: string[]) => sh(["nsenter", "-t", String(client.pid), "-n", ...argv]);
      expect(inClient("ip", "addr", "add", `10.213.${y}.2/30`, "dev", "eth0").code).toBe(0);
      expect(inClient("ip", "link", "set", "eth0", "up").code).toBe(0);
      expect(inClient("ip", "route", "add", `${gateway}/32`, "via", `10.213.${y}.1`).code).toBe(0);
      let seen = "";
      for (let i = 0; i < 20 && !seen; i++) {
        const r = inClient("timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", `http://${gateway}:${gwPort}/cgi-bin/peer`);
        if (r.code === 0) seen = peer(r.stdout);
        else await Bun.sleep(100);
      }
      expect(seen).toBe(`10.213.${y}.2`);
    } finally {
      client.kill("SIGKILL");
      await client.exited;
      sh(["ip", "link", "del", outerHost]);
    }
    expect(hostLinks()).not.toContain(outerHost);
    expect(sh(["ip", "-o", "addr"]).stdout).not.toContain(`10.213.${y}.`);
  }, 30000);

  test("--hostname on a bridge resolves inside and from the other containers (one hosts generator)", () => {
    names.add("hn-self");
    names.add("hn-peer");
    expect(diyc(root, ["run", "-d", "--net", bridge, "--hostname", "web.example", "hn-self", "busybox", "sleep", "30"], { env: ENV }).code).toBe(0);
    try {
      // Its own line: its address, its name and its hostname; the name resolves to that address inside.
      const r = diyc(root, ["exec", "hn-self", "sh", "-c", "grep -w web.example /etc/hosts; hostname; ping -c1 -W2 web.example 2>&1 | head -1"], { env: ENV });
      expect(r.code).toBe(0);
      const [line, hostname, resolved] = r.stdout.trim().split("\n");
      expect(line).toMatch(new RegExp(`^${prefix.replaceAll(".", "\\.")}\\d+\\thn-self web\\.example$`));
      const ip = line!.split("\t")[0];
      expect(hostname).toBe("web.example");
      expect(resolved).toStartWith(`PING web.example (${ip})`);
      // Another container on the bridge resolves it too, and reaches it (busybox ping needs NET_RAW).
      const peer = diyc(root, ["run", "--rm", "--net", bridge, "--cap-add", "NET_RAW", "hn-peer", "busybox", "ping", "-c1", "-W2", "web.example"], { env: ENV });
      expect(peer).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^PING web\\.example \\(${ip!.replaceAll(".", "\\.")}\\)`)) });
    } finally {
      expect(diyc(root, ["rm", "-f", "hn-self"], { env: ENV }).code).toBe(0);
    }
    // The host's network or none: the hostname on 127.0.1.1, as before.
    const alone = diyc(root, ["run", "--rm", "--net", "none", "--hostname", "solo", "hn-alone", "busybox", "grep", "solo", "/etc/hosts"], { env: ENV });
    expect(alone.stdout).toBe("127.0.1.1\tsolo\n");
  }, 30000);

  test("-p CTRPORT and -p HOSTIP::CTRPORT: a free host port is chosen, shown by ps and diyc port, and serves", async () => {
    const c = await start("freeport", ["--net", bridge, "-p", "8080", "-p", "127.0.0.1::8080/tcp"], WEB);
    await until(() => c.stdout.includes("--end\n"), 5000, "its web server");
    const listed = diyc(root, ["port", "freeport"]).stdout.trim().split("\n");
    expect(listed).toHaveLength(2);
    const ports = listed.map((line) => {
      const m = /^8080\/tcp -> (0\.0\.0\.0|127\.0\.0\.1):(\d+)$/.exec(line);
      expect(m).not.toBeNull();
      return { ip: m![1]!, port: Number(m![2]) };
    });
    for (const p of ports) expect(p.port).toBeGreaterThanOrEqual(32768);
    expect(ports[0]!.port).not.toBe(ports[1]!.port);
    const local = ports.find((p) => p.ip === "127.0.0.1")!;
    expect(hostFetch(`http://127.0.0.1:${local.port}/`, 50)).toBe("hello-from-a\n");
    expect(diyc(root, ["port", "freeport", "8080"]).stdout).toBe(listed.map((l) => l.split(" -> ")[1]).join("\n") + "\n");
    expect(diyc(root, ["ps", "--filter", "name=freeport", "--format", "{{.Ports}}"]).stdout).toContain(`127.0.0.1:${local.port}->8080/tcp`);
    await stop(c);
  }, 30000);

  test("--net none: only lo, and it is up", () => {
    const r = diyc(root, ["run", "--rm", "--net", "none", "isolated", "busybox", "sh", "-c",
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; echo --; cat /sys/class/net/lo/flags; ls /sys/class/net"], { env: ENV });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const [devices, rest] = r.stdout.split("--\n");
    expect(devices).toBe("lo\n");
    const [flags, ...listed] = rest!.trim().split("\n");
    expect(Number(flags) & 1).toBe(1);
    expect(listed).toEqual(["lo"]);
    expect(leases()).toEqual({ [aIp]: aName });
  }, 30000);

  test("20 containers started at once: 20 addresses, all reachable, all in every hosts file; all gone after", async () => {
    const scale = Array.from({ length: 20 }, (_, i) => `s${i}`);
    const started = await Promise.allSettled(scale.map((n) => start(n, ["--net", bridge], ["sleep", "60"])));
    const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    try {
      expect(started.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
      const held = leases();
      const ips = scale.map(ipOf);
      expect(new Set(ips).size).toBe(20);
      expect(Object.keys(held).length).toBe(21);
      for (const ip of ips) {
        expect(ip.startsWith(prefix)).toBe(true);
        expect(ip).not.toBe(gateway);
        expect(ip).not.toBe(aIp);
      }
      // Reachable from the host at once, although some of these addresses were held before by
      // containers that are gone and the host's ARP cache may still hold them: the MAC comes
      // with the address, so the cached entry is right for the new holder too.
      const pings = await Promise.all(ips.map(async (ip) => {
        const p = Bun.spawn(["/bin/busybox", "ping", "-c", "1", "-W", "2", ip], { stdout: "ignore", stderr: "ignore", env: ENV });
        return [ip, await p.exited] as const;
      }));
      expect(pings.filter(([, code]) => code !== 0)).toEqual([]);
      // Each hosts file (bind-mounted on /etc/hosts) lists every container of the network.
      for (const n of [...scale, aName]) {
        const hosts = readFileSync(join(root, "containers", n, "hosts"), "utf8");
        for (const [ip, holder] of Object.entries(held)) expect(hosts).toContain(`${ip}\t${holder}\n`);
      }
      for (const r of running) expect(r.stderr).toContain(`HOST| write hosts files of`);
    } finally {
      const codes = await Promise.all(running.map(stop));
      expect(codes.every((c) => c === 137)).toBe(true);
    }
    expect(leases()).toEqual({ [aIp]: aName });
    await vethsGone(scale);
    const aHosts = readFileSync(join(root, "containers", aName, "hosts"), "utf8");
    for (const n of scale) expect(aHosts).not.toMatch(new RegExp(`\\t${n}\\n`));
    for (const n of scale) expect(existsSync(join(root, "containers", n))).toBe(false);
    expect(hostFetch(`http://${aIp}:8080/`)).toBe("hello-from-a\n");
  }, 120000);

  // The bridge has a MAC of its own (src/network/mac.ts). Without one, Linux gives it the lowest
  // MAC of its ports, so the gateway's MAC changed whenever a container with a lower veth MAC
  // joined or the lowest one left, and running containers lost the gateway (the host, replies
  // of published ports, the outside) for seconds, until their ARP entry expired.
  test("the gateway's MAC stays the same while containers come and go", async () => {
    const seen = new Set([gatewayMac, bridgeMac()]);
    for (let i = 0; i < 4; i++) {
      const r = await start(`mac${i}`, ["--net", bridge], ["sleep", "30"]);
      seen.add(bridgeMac());
      await stop(r);
      seen.add(bridgeMac());
    }
    expect([...seen]).toEqual([gatewayMac]);
    // A, running all along, still reaches the gateway's MAC it cached.
    expect(hostFetch(`http://${aIp}:8080/`)).toBe("hello-from-a\n");
  }, 30000);

  // eth0's MAC comes from its address (02:42:<ip>), so a container that gets an address again
  // answers to the MAC the host (and every peer) cached for the previous holder. With random
  // MACs the host kept sending to the old one for seconds.
  test("an address leased again is reachable from the host at once", async () => {
    const ip = `${prefix}9`;
    const ping = () => sh(["/bin/busybox", "ping", "-c", "1", "-W", "1", ip]).code;
    const reachable = () => ping() === 0 || ping() === 0; // a couple of tries at most
    const neighbour = () => sh(["ip", "neigh", "show", ip, "dev", bridge]).stdout;
    const x = await start("relx", ["--net", bridge, "-i", ip], ["sleep", "60"]);
    try {
      expect(reachable()).toBe(true);
    } finally {
      expect(await stop(x)).toBe(137);
    }
    expect(ip in leases()).toBe(false);
    await vethsGone(["relx"]);
    // The host still caches X's MAC for the address: the case that failed.
    const cached = /lladdr (\S+)/.exec(neighbour())?.[1];
    expect(cached).toBeDefined();
    const y = await start("rely", ["--net", bridge, "-i", ip], ["sleep", "60"]);
    try {
      expect(reachable()).toBe(true);
      const mac = formatMac(macForIpv4(parseIpv4(ip)!));
      expect(cached).toBe(mac);
      expect(sh(["nsenter", "-t", String(y.init), "-n", "ip", "-o", "link", "show", "eth0"]).stdout).toContain(`link/ether ${mac} `);
    } finally {
      expect(await stop(y)).toBe(137);
    }
    expect(ip in leases()).toBe(false);
  }, 30000);

  test("a namespace held past its container keeps the veth; the next attach deletes it before the address is leased again", async () => {
    const ip = `${prefix}11`;
    const stray = hostVethName("strayx");
    const x = await start("strayx", ["--net", bridge, "-i", ip], ["sleep", "60"]);
    // Something outside diyc keeps the container's network namespace: a process of the test's own in it.
    const holder = Bun.spawn(["nsenter", "-t", String(x.init), "-n", "sleep", "60"], { stdin: "ignore" });
    try {
      await until(() => readlinkSync(`/proc/${holder.pid}/ns/net`) === readlinkSync(`/proc/${x.init}/ns/net`), 5000, "the holder to join the namespace");
      expect(await stop(x)).toBe(137);
      expect(ip in leases()).toBe(false);
      expect(sh(["ip", "-o", "link", "show", "master", bridge]).stdout).toContain(`${stray}@`);
      names.add("strayy");
      const y = diyc(root, ["run", "-v", "--rm", "--net", bridge, "-i", ip, "strayy", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"], { env: ENV });
      expect(y.code).toBe(0);
      expect(y.stderr).toContain(`HOST| delete stray veth ${stray}: no lease holds it\n`);
      expect(y.stdout).toContain(`inet ${ip}/24 `);
      expect(hostLinks()).not.toContain(stray);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
    await vethsGone(["strayx", "strayy"]);
    expect(ip in leases()).toBe(false);
  }, 30000);

  test("a SIGKILLed diyc run: the monitor's cleanup removes veth, lease, port rule and claim", async () => {
    const port = freePort([loPort, gwPort]);
    const k = await start("killed", ["--net", bridge, "-p", `127.0.0.1:${port}:8080`], WEB);
    const ip = ipOf("killed");
    expect(hostFetch(`http://127.0.0.1:${port}/`, 50)).toBe("hello-from-a\n");
    expect(hostLinks()).toContain(hostVethName("killed"));
    expect(portRules()).toContain(`comment "diyc container killed"`);
    expect(portClaims()).toContain(`tcp-${port}`);
    k.proc.kill("SIGKILL");
    expect(await k.proc.exited).toBe(137);
    // diyc is gone; the container (and its monitor) are not.
    expect(processExists(k.monitor)).toBe(true);
    try {
      process.kill(k.init, "SIGKILL");
    } catch {
      // the monitor may already have taken the init down
    }
    await until(() =>
      !hostLinks().includes(hostVethName("killed")) && !(ip in leases()) && !portRules().includes("diyc container killed")
      && !portClaims().includes(`tcp-${port}`) && !existsSync(join(root, "containers", "killed")) && !processExists(k.monitor), 5000, "the monitor's cleanup");
    expect(leases()).toEqual({ [aIp]: aName });
    expect(readFileSync(join(root, "containers", aName, "hosts"), "utf8")).not.toContain("killed");
    expect(sh(["curl", "-s", "--noproxy", "*", "--max-time", "2", `http://127.0.0.1:${port}/`]).code).not.toBe(0);
  }, 30000);

  test("bad input: exit 125, one line, nothing made", async () => {
    const cases: [string, string[], RegExp][] = [
      ["bad1", ["--net", bridge, "-i", `${prefix}999`], /invalid address/],
      ["bad2", ["--net", bridge, "-i", `10.213.${(octet % 254) + 1}.5`], /cannot be used/],
      ["bad3", ["--net", bridge, "-i", gateway], /cannot be used/],
      ["bad4", ["--net", bridge, "-i", `${prefix}255`], /cannot be used/],
      ["bad5", ["--net", bridge, "-i", `${prefix}0`], /cannot be used/],
      ["bad6", ["--net", bridge, "-i", aIp], new RegExp(`address ${aIp.replaceAll(".", "\\.")} is already in use by container ${aName}`)],
      ["bad7", ["--net", bridge, "-p", "abc"], /abc/],
      ["bad8", ["--net", bridge, "-p", "70000:80"], /70000/],
      ["bad9", ["--net", bridge, "-p", `127.0.0.1:${loPort}:80`], new RegExp(`${loPort}/tcp is already published by container ${aName}`)],
      ["bad10", ["--net", "none", "-i", `${prefix}40`], /-i and -p need a network/],
      ["bad11", ["--net", "host", "-p", "8080:80"], /-i and -p need a network/],
      ["bad12", ["--net", "nosuchnet"], /no such network: nosuchnet/],
    ];
    const results: string[] = [];
    for (const [name, options, message] of cases) {
      names.add(name);
      const r = diyc(root, ["run", "--rm", ...options, name, "busybox", "true"], { env: ENV });
      results.push(`${name} ${r.code} ${message.test(r.stderr)} ${r.stderr.split("\n").length} ${r.stderr.startsWith("diyc: ")}`);
      expect(`${name} ${r.code}: ${r.stderr}`).toMatch(new RegExp(`^${name} 125: diyc: [^\\n]*\\n$`));
      expect(existsSync(join(root, "containers", name))).toBe(false);
    }
    await vethsGone(cases.map(([name]) => name));
    expect(results).toEqual(cases.map(([name]) => `${name} 125 true 2 true`));
    expect(leases()).toEqual({ [aIp]: aName });
    expect(portClaims().sort()).toEqual([`tcp-${gwPort}`, `tcp-${loPort}`].sort());
    expect(readdirSync(join(root, "containers"))).toEqual([aName]);
    // The default network was never touched by any of this.
    expect(existsSync(join(root, "network", "diyc0"))).toBe(false);
    // A still serves, on its address and its ports.
    expect(hostFetch(`http://127.0.0.1:${loPort}/`)).toBe("hello-from-a\n");
  }, 60000);

  test("stopping A frees its address, ports and veth", async () => {
    expect(await stop(a)).toBe(137);
    expect(leases()).toEqual({});
    expect(portClaims()).toEqual([]);
    expect(portRules()).not.toContain("diyc container");
    await vethsGone([aName]);
    expect(a.stderr).toContain(`HOST| release lease ${aIp} of ${aName}`);
    expect(existsSync(join(root, "containers", aName))).toBe(false);
  }, 30000);
});
