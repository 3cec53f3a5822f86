// Container networking on the real kernel (root). Stand-in "containers" are
// busybox processes in their own network namespace (`unshare --net`), started
// and killed by pid. Every test network has its own store, bridge (dtst*),
// subnet (a free 10.213.X.0/24) and nft table (diyc_t*), and the suite proves
// it leaves nothing behind. Traffic goes only to the bridge and those
// namespaces. `ip` and `nsenter` are used here only to observe.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "../../src/cli/network";
import { UsageError } from "../../src/linux/errors";
import { linuxSyscalls } from "../../src/linux/syscalls";
import { Store } from "../../src/store/store";
import { createBridgeRequest } from "../../src/network/bridge";
import {
  attachContainer,
  cleanNetwork,
  detachContainer,
  hostsFilePath,
  hostVethName,
  listLeases,
  parsePublish,
  setupNetwork,
  type Attachment,
  type NetworkConfig,
} from "../../src/network/index";
import { parseIpv4 } from "../../src/network/ipv4";
import { formatMac, macForIpv4, macForName } from "../../src/network/mac";
import { withNetlink } from "../../src/network/netlink";
import { listPortClaims } from "../../src/network/ports";

const canRun = process.getuid?.() === 0 && existsSync("/usr/sbin/nft") && existsSync("/bin/busybox");
const describeRoot = canRun ? describe : describe.skip;

const BUSYBOX = "/bin/busybox";

// A bare environment: no http_proxy and the like, so wget talks only to the addresses the tests made.
const ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

function run(argv: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: ENV });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

function hostLinks(): string {
  return run(["ip", "-o", "link"]).out;
}

function nftTables(): string {
  return run(["nft", "list", "tables"]).out;
}

function random(n: number): number {
  return Math.floor(Math.random() * n);
}

/** A 10.213.X.0/24 that no address or route on the host uses. */
function freeSubnet(): string {
  const used = run(["ip", "-o", "addr"]).out + run(["ip", "route"]).out;
  for (;;) {
    const x = 1 + random(254);
    if (!used.includes(`10.213.${x}.`)) return `10.213.${x}.0/24`;
  }
}

/** A high port nothing on the host listens on (tcp and udp). */
function freePort(): number {
  const listening = ["tcp", "udp"].map((p) => readFileSync(`/proc/net/${p}`, "utf8")).join("");
  for (;;) {
    const port = 20000 + random(20000);
    if (!listening.toUpperCase().includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `)) return port;
  }
}

interface TestNetwork {
  root: string;
  store: Store;
  cfg: NetworkConfig;
}

/** Everything this file creates, for the final check. */
const created: TestNetwork[] = [];
const started: Bun.Subprocess[] = [];

function newTestNetwork(): TestNetwork {
  const root = mkdtempSync(join(tmpdir(), "diyc-net-"));
  const id = `${process.pid % 1000}${random(1e6)}`.slice(0, 8);
  const subnet = freeSubnet();
  const cfg: NetworkConfig = {
    name: `tnet${id}`,
    bridge: `dtst${id}`,
    subnet,
    gateway: subnet.replace(/0\/24$/, "1"),
    table: `diyc_t${id}`,
  };
  const net = { root, store: new Store(root), cfg };
  created.push(net);
  return net;
}

/** The network namespace our own thread is in, to tell when a child has left it. */
const hostNetns = readlinkSync("/proc/thread-self/ns/net");

/** Starts `argv` in a new network namespace; returns once the process is in it. */
async function startInNetns(argv: string[]): Promise<Bun.Subprocess> {
  // unshare execs the command, so the spawned pid is the namespace's owner.
  const proc = Bun.spawn(["unshare", "--net", ...argv], { stdout: "ignore", stderr: "ignore" });
  started.push(proc);
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(`/proc/${proc.pid}/ns/net`) !== hostNetns) return proc;
    } catch {
      // not started yet
    }
    await Bun.sleep(10);
  }
  proc.kill();
  throw new Error(`pid ${proc.pid} never entered a new network namespace`);
}

/** A busybox httpd serving "<name>\n" on port 8080 in a namespace of its own. */
async function startWebServer(dir: string, name: string): Promise<Bun.Subprocess> {
  const www = join(dir, `www-${name}`);
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "index.html"), `${name}\n`);
  return startInNetns([BUSYBOX, "httpd", "-f", "-p", "8080", "-h", www]);
}

async function stop(proc: Bun.Subprocess): Promise<void> {
  proc.kill("SIGKILL");
  await proc.exited;
}

/** busybox wget from the host, or from inside the namespace of `fromPid`. */
function fetchText(url: string, fromPid?: number): string {
  // Debian's static busybox crashes on wget -T, so coreutils' timeout bounds it.
  const wget = ["timeout", "5", BUSYBOX, "wget", "-q", "-O", "-", url];
  const argv = fromPid === undefined ? wget : ["nsenter", "-t", String(fromPid), "-n", ...wget];
  for (let attempt = 0; ; attempt++) {
    const r = run(argv);
    if (r.code === 0 || attempt === 4) return r.out.trim();
    Bun.sleepSync(100);
  }
}

function inNetns(pid: number, argv: string[]): string {
  return run(["nsenter", "-t", String(pid), "-n", ...argv]).out;
}

/** Proves a network left nothing: no link, no table, no lease, no port claim. */
function expectNothingLeft(net: TestNetwork, containers: string[]): void {
  const links = hostLinks();
  expect(links).not.toContain(net.cfg.bridge);
  for (const c of containers) expect(links).not.toContain(hostVethName(c));
  expect(nftTables()).not.toContain(net.cfg.table);
  expect(listLeases(net.store, net.cfg.name)).toEqual([]);
  expect(listPortClaims(net.store)).toEqual([]);
  expect(existsSync(join(net.store.networkDir, net.cfg.name))).toBe(false);
}

describeRoot("network setup and clean", () => {
  test("setup makes the bridge, gateway and table; clean removes exactly them; both are idempotent", () => {
    const net = newTestNetwork();
    const forwardBefore = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
    const lines: string[] = [];
    try {
      setupNetwork(net.store, net.cfg, (l) => lines.push(l));
      setupNetwork(net.store, net.cfg);
      expect(lines[0]).toBe(`create bridge ${net.cfg.bridge}`);
      expect(run(["ip", "-o", "addr", "show", "dev", net.cfg.bridge]).out).toContain(`inet ${net.cfg.gateway}/24`);
      expect(run(["ip", "-o", "link", "show", "dev", net.cfg.bridge]).out).toMatch(/<[^>]*\bUP\b/);
      expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe("1");
      expect(readFileSync(`/proc/sys/net/ipv4/conf/${net.cfg.bridge}/route_localnet`, "utf8").trim()).toBe("1");
      const table = run(["nft", "list", "table", "ip", net.cfg.table]).out;
      expect(table).toContain(`ip saddr ${net.cfg.subnet} oifname != "${net.cfg.bridge}" masquerade`);
      // Setting up twice did not duplicate rules.
      expect(table.match(/jump ports/g)?.length).toBe(2);
      // The bridge has its fixed MAC; a bridge of ours without it (made before bridges had one)
      // gets it back from setup.
      const bridgeMac = () => readFileSync(`/sys/class/net/${net.cfg.bridge}/address`, "utf8").trim();
      expect(bridgeMac()).toBe(formatMac(macForName(net.cfg.bridge)));
      expect(run(["ip", "link", "set", "dev", net.cfg.bridge, "address", "02:00:00:00:00:01"]).code).toBe(0);
      const again: string[] = [];
      setupNetwork(net.store, net.cfg, (l) => again.push(l));
      expect(again).toContain(`set address of ${net.cfg.bridge} to ${formatMac(macForName(net.cfg.bridge))}`);
      expect(bridgeMac()).toBe(formatMac(macForName(net.cfg.bridge)));
    } finally {
      cleanNetwork(net.store, net.cfg);
      cleanNetwork(net.store, net.cfg);
      rmSync(net.root, { recursive: true, force: true });
    }
    expectNothingLeft(net, []);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe(forwardBefore);
  });

  test("setup refuses to adopt a link it did not create; kernel errors name the call, errno and link", () => {
    const a = newTestNetwork();
    const b = newTestNetwork();
    try {
      setupNetwork(a.store, a.cfg);
      expect(() => setupNetwork(b.store, { ...b.cfg, bridge: a.cfg.bridge })).toThrow(
        `link ${a.cfg.bridge} already exists and was not created by diyc`,
      );
      expect(() => withNetlink((sock) => sock.request(createBridgeRequest(a.cfg.bridge)))).toThrow(
        `netlink RTM_NEWLINK ${a.cfg.bridge}: file exists (EEXIST)`,
      );
      // b's clean must not touch a's bridge, which b never created.
      cleanNetwork(b.store, { ...b.cfg, bridge: a.cfg.bridge });
      expect(hostLinks()).toContain(a.cfg.bridge);
    } finally {
      cleanNetwork(a.store, a.cfg);
      for (const n of [a, b]) rmSync(n.root, { recursive: true, force: true });
    }
    expectNothingLeft(a, []);
  });
});

describeRoot("diyc network", () => {
  test("setup, ls and clean from the command line", async () => {
    const net = newTestNetwork();
    const out: string[] = [];
    const errors: string[] = [];
    const ctx = { store: net.store, syscalls: linuxSyscalls, verbose: true, log: (l: string) => errors.push(l), print: (l: string) => out.push(l), diycCommand: [] };
    const flags = ["--bridge", net.cfg.bridge, "--subnet", net.cfg.subnet];
    try {
      expect(await network(["setup", ...flags], ctx)).toBe(0);
      expect(errors[0]).toBe(`HOST| create bridge ${net.cfg.bridge}`);
      // setup says what it made.
      expect(out.splice(0)).toEqual([`network ${net.cfg.bridge}: bridge ${net.cfg.bridge}, subnet ${net.cfg.subnet}, gateway ${net.cfg.gateway}, nft table diyc_${net.cfg.bridge}`]);
      expect(await network(["ls"], ctx)).toBe(0);
      const lines = out.join("\n").split("\n"); // what the user sees, however it was printed
      expect(lines[0]).toMatch(/^NAME +BRIDGE +SUBNET +GATEWAY +TABLE +CONTAINERS$/);
      expect(lines[1]).toMatch(new RegExp(`^${net.cfg.bridge} +${net.cfg.bridge} +${net.cfg.subnet} +${net.cfg.gateway} +diyc_${net.cfg.bridge} +0$`));
      await expect(network(["setup", "--bogus"], ctx)).rejects.toThrow(UsageError);
      // clean finds the subnet and table that setup recorded.
      expect(await network(["clean", "--bridge", net.cfg.bridge], ctx)).toBe(0);
      expect(errors).toContain(`HOST| nft: delete table ip diyc_${net.cfg.bridge}`);
      expect(hostLinks()).not.toContain(net.cfg.bridge);
      expect(nftTables()).not.toContain(`diyc_${net.cfg.bridge}`);
    } finally {
      cleanNetwork(net.store, { ...net.cfg, name: net.cfg.bridge, table: `diyc_${net.cfg.bridge}` });
      rmSync(net.root, { recursive: true, force: true });
    }
  });
});

describeRoot("attach and detach", () => {
  const net = newTestNetwork();
  const procs: Bun.Subprocess[] = [];
  let web: Bun.Subprocess;
  let client: Bun.Subprocess;
  let webNet: Attachment;
  let clientNet: Attachment;
  const hostPort = freePort();
  const trace: string[] = [];

  beforeAll(async () => {
    setupNetwork(net.store, net.cfg);
    for (const c of ["web", "client"]) mkdirSync(net.store.containerDir(c), { recursive: true });
    web = await startWebServer(net.root, "web");
    client = await startWebServer(net.root, "client");
    procs.push(web, client);
    const webIp = net.cfg.subnet.replace(/0\/24$/, "30");
    webNet = attachContainer(net.store, net.cfg, { container: "web", pid: web.pid, ip: webIp, publish: [parsePublish(`${hostPort}:8080`)] }, (l) =>
      trace.push(l),
    );
    clientNet = attachContainer(net.store, net.cfg, { container: "client", pid: client.pid, publish: [] });
  });

  afterAll(async () => {
    for (const p of procs) await stop(p);
    cleanNetwork(net.store, net.cfg);
    rmSync(net.root, { recursive: true, force: true });
    expectNothingLeft(net, ["web", "client", "third", "late"]);
    for (const p of procs) expect(existsSync(`/proc/${p.pid}`)).toBe(false);
  });

  test("each kernel step is one trace line", () => {
    expect(trace).toContain(`create veth ${hostVethName("web")} <-> eth0 in netns of pid ${web.pid}`);
    expect(trace).toContain(`netns ${web.pid}: add default route via ${net.cfg.gateway} dev eth0`);
  });

  test("eth0 inside has the address and the default route; the host end is a port of the bridge", () => {
    expect(webNet.ip).toBe(net.cfg.subnet.replace(/0\/24$/, "30"));
    expect(clientNet.ip).toBe(net.cfg.subnet.replace(/0\/24$/, "2"));
    expect(inNetns(web.pid, ["ip", "-o", "-4", "addr"])).toContain(`eth0    inet ${webNet.ip}/24`);
    expect(inNetns(web.pid, ["ip", "-o", "link", "show", "lo"])).toMatch(/<[^>]*\bUP\b/);
    expect(inNetns(web.pid, ["ip", "route"])).toContain(`default via ${net.cfg.gateway} dev eth0`);
    expect(run(["ip", "-o", "link", "show", "dev", webNet.hostInterface]).out).toContain(`master ${net.cfg.bridge}`);
    // MACs chosen, not random: eth0's from its address, the host end's from its name.
    expect(inNetns(web.pid, ["ip", "-o", "link", "show", "eth0"])).toContain(`link/ether ${formatMac(macForIpv4(parseIpv4(webNet.ip)!))} `);
    expect(readFileSync(`/sys/class/net/${webNet.hostInterface}/address`, "utf8").trim()).toBe(formatMac(macForName(webNet.hostInterface)));
  });

  test("the host reaches a container; containers reach each other", () => {
    expect(run([BUSYBOX, "ping", "-c", "1", "-W", "2", webNet.ip]).code).toBe(0);
    expect(fetchText(`http://${webNet.ip}:8080/`)).toBe("web");
    expect(fetchText(`http://${webNet.ip}:8080/`, client.pid)).toBe("web");
    expect(fetchText(`http://${clientNet.ip}:8080/`, web.pid)).toBe("client");
  });

  test("a published port works on 127.0.0.1, on the gateway from another container, and keeps its rule tagged", () => {
    expect(fetchText(`http://127.0.0.1:${hostPort}/`)).toBe("web");
    expect(fetchText(`http://${net.cfg.gateway}:${hostPort}/`)).toBe("web");
    expect(fetchText(`http://${net.cfg.gateway}:${hostPort}/`, client.pid)).toBe("web");
    expect(run(["nft", "list", "chain", "ip", net.cfg.table, "ports"]).out).toContain(
      `tcp dport ${hostPort} dnat to ${webNet.ip}:8080 comment "diyc container web"`,
    );
  });

  test("hosts files list every container on the network", () => {
    const hosts = readFileSync(hostsFilePath(net.store, "client"), "utf8");
    expect(hosts).toContain(`${webNet.ip}\tweb\n`);
    expect(hosts).toContain(`${clientNet.ip}\tclient\n`);
    expect(readFileSync(hostsFilePath(net.store, "web"), "utf8")).toBe(hosts);
  });

  test("conflicts are UsageErrors and leave nothing behind", async () => {
    const third = await startInNetns([BUSYBOX, "sleep", "60"]);
    procs.push(third);
    expect(() => attachContainer(net.store, net.cfg, { container: "third", pid: third.pid, ip: webNet.ip, publish: [] })).toThrow(
      new UsageError(`address ${webNet.ip} is already in use by container web`),
    );
    expect(() => attachContainer(net.store, net.cfg, { container: "third", pid: third.pid, publish: [parsePublish(`${hostPort}:80`)] })).toThrow(
      `host port ${hostPort}/tcp is already published by container web on network ${net.cfg.name}`,
    );
    expect(listLeases(net.store, net.cfg.name).map((l) => l.container).sort()).toEqual(["client", "web"]);
    expect(hostLinks()).not.toContain(hostVethName("third"));
    expect(inNetns(third.pid, ["ip", "-o", "link"])).not.toContain("eth0");
  });

  test("detach removes the veth, lease, port rules and claim, refreshes hosts files, and is idempotent", () => {
    detachContainer(net.store, net.cfg, "web");
    detachContainer(net.store, net.cfg, "web");
    expect(hostLinks()).not.toContain(webNet.hostInterface);
    expect(inNetns(web.pid, ["ip", "-o", "link"])).not.toContain("eth0");
    expect(listLeases(net.store, net.cfg.name).map((l) => l.container)).toEqual(["client"]);
    expect(listPortClaims(net.store)).toEqual([]);
    expect(run(["nft", "list", "chain", "ip", net.cfg.table, "ports"]).out).not.toContain("diyc container web");
    expect(readFileSync(hostsFilePath(net.store, "client"), "utf8")).not.toContain("\tweb\n");
  });

  test("when the container dies first, its veth goes with its namespace and detach frees the rest", async () => {
    const late = await startInNetns([BUSYBOX, "sleep", "60"]);
    procs.push(late);
    const a = attachContainer(net.store, net.cfg, { container: "late", pid: late.pid, publish: [parsePublish(`127.0.0.1:${freePort()}:80/udp`)] });
    await stop(late);
    for (let i = 0; i < 100 && hostLinks().includes(a.hostInterface); i++) await Bun.sleep(20);
    expect(hostLinks()).not.toContain(a.hostInterface);
    detachContainer(net.store, net.cfg, "late");
    expect(listLeases(net.store, net.cfg.name).map((l) => l.container)).toEqual(["client"]);
    expect(listPortClaims(net.store)).toEqual([]);
  });
});

describeRoot("concurrent attaches", () => {
  test("20 containers attached at once from 20 processes get 20 distinct addresses", async () => {
    const net = newTestNetwork();
    const procs: Bun.Subprocess[] = [];
    const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
    try {
      setupNetwork(net.store, net.cfg);
      for (const _ of names) procs.push(await startInNetns([BUSYBOX, "sleep", "120"]));
      const index = join(import.meta.dir, "../../src/network/index.ts");
      const store = join(import.meta.dir, "../../src/store/store.ts");
      const script = `
        const { attachContainer } = await import(${JSON.stringify(index)});
        const { Store } = await import(${JSON.stringify(store)});
        const [root, cfg, name, pid] = process.argv.slice(1);
        const a = attachContainer(new Store(root), JSON.parse(cfg), { container: name, pid: Number(pid), publish: [] });
        console.log(JSON.stringify(a));
      `;
      const workers = names.map((name, i) =>
        Bun.spawn([process.execPath, "-e", script, net.root, JSON.stringify(net.cfg), name, String(procs[i]!.pid)], {
          stdout: "pipe",
          stderr: "pipe",
        }),
      );
      const outputs = await Promise.all(workers.map(async (w) => ({ out: await new Response(w.stdout).text(), err: await new Response(w.stderr).text(), code: await w.exited })));
      for (const o of outputs) expect(o).toMatchObject({ code: 0, err: "" });
      const attachments = outputs.map((o) => JSON.parse(o.out) as Attachment);
      expect(new Set(attachments.map((a) => a.ip)).size).toBe(20);
      attachments.forEach((a, i) => expect(inNetns(procs[i]!.pid, ["ip", "-o", "-4", "addr", "show", "eth0"])).toContain(`inet ${a.ip}/24`));
      expect(listLeases(net.store, net.cfg.name).length).toBe(20);
      for (const name of names) detachContainer(net.store, net.cfg, name);
      expect(listLeases(net.store, net.cfg.name)).toEqual([]);
    } finally {
      for (const p of procs) await stop(p);
      cleanNetwork(net.store, net.cfg);
      rmSync(net.root, { recursive: true, force: true });
    }
    expectNothingLeft(net, names);
  }, 60000);
});

// Whatever happened above, every network and process this file created is gone.
afterAll(() => {
  for (const net of created) {
    expectNothingLeft(net, []);
    expect(existsSync(net.root)).toBe(false);
  }
  for (const proc of started) expect(existsSync(`/proc/${proc.pid}`)).toBe(false);
});
