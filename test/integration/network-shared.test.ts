// Networks are the host's, shared by its stores (issue 10): a network set up
// by one store is used by others (the seed's -i ADDR in a second store), two
// first uses at once both succeed, `network clean` removes only what the
// store owns or what nobody owns any more (a deleted store's leftovers, a
// bridge diyc made that no registry knows), overlapping subnets and host
// ports a host service holds are refused, saying which.
//
// Isolation: a network registry of this file's own (DIYC_NETWORKS, a temp
// directory) and stores of its own; bridges drl0..drl9, subnets inside
// 10.231.0.0/16, host ports 18600-18699, one dummy link drl6 for a host
// route, servers of this process's own on 127.0.0.1. Traffic only between
// this file's containers. At the end: no drl link, no nft table, no lease,
// claim, process, mount or cgroup of its stores.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DIYC, isRoot, mountsUnder, processExists, removeStore, storeCgroups, tempStore, type Result } from "../helpers/diyc";

const canRun = isRoot && existsSync("/usr/sbin/nft") && existsSync("/bin/busybox");
const describeRoot = canRun ? describe : describe.skip;

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function sh(argv: string[]): Result {
  const p = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH } });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

let registry: string;
let storeA: string;
let storeB: string;
let storeC: string;

/** diyc on `store`, with the registry this file shares between its stores. */
function diyc(store: string, args: string[], networks = registry): Result {
  const p = Bun.spawnSync([DIYC, "--root", store, ...args], { stdin: "ignore", env: { PATH, DIYC_NETWORKS: networks } });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

const links = () => sh(["ip", "-o", "link"]).stdout;
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);
const tables = () => sh(["nft", "list", "tables"]).stdout;
const portsOf = (bridge: string) => (existsSync(`/sys/class/net/${bridge}/brif`) ? readdirSync(`/sys/class/net/${bridge}/brif`).sort() : []);
const leases = (network: string) => {
  const dir = join(registry, network, "leases");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};

/** Polls `what` for up to 5 s. */
function until(what: () => boolean): boolean {
  const deadline = Date.now() + 5000;
  while (!what()) {
    if (Date.now() > deadline) return false;
    Bun.sleepSync(20);
  }
  return true;
}

/** The bridges this file makes; none may exist before it starts (they could be someone else's). */
const BRIDGES = ["drl0", "drl1", "drl2", "drl3", "drl4", "drl5", "drl6", "drl7", "drl8", "drl9"];

beforeAll(() => {
  for (const bridge of BRIDGES) if (linkExists(bridge)) throw new Error(`${bridge} exists before the test: not ours, refusing to run`);
  registry = mkdtempSync("/tmp/diyc-rl-networks-");
  storeA = tempStore("diyc-rl-a-");
  storeB = tempStore("diyc-rl-b-");
  storeC = tempStore("diyc-rl-c-");
});

afterAll(() => {
  if (registry === undefined) return; // beforeAll refused to start: nothing here is ours
  // Whatever a failed test left: containers first (each from its store), then networks.
  for (const store of [storeA, storeB, storeC]) {
    if (!existsSync(join(store, "containers"))) continue;
    for (const name of readdirSync(join(store, "containers"))) diyc(store, ["rm", "-f", name]);
  }
  for (const bridge of BRIDGES) {
    if (existsSync(join(registry, bridge))) for (const store of [storeA, storeB, storeC]) diyc(store, ["network", "clean", "--bridge", bridge]);
  }
  // A test that failed half-way can leave a link of ours that no registry knows (a lost
  // registry's bridge, the host-route veth, the foreign bridge): all drl* are this file's.
  const spare = mkdtempSync("/tmp/diyc-rl-spare-");
  for (const link of BRIDGES.filter(linkExists)) {
    const subnet = /inet (\d+\.\d+\.\d+)\.\d+\/(\d+)/.exec(sh(["ip", "-4", "-o", "addr", "show", "dev", link]).stdout);
    if (subnet) diyc(spare, ["network", "clean", "--bridge", link, "--subnet", `${subnet[1]}.0/${subnet[2]}`], join(spare, "network"));
    if (linkExists(link)) sh(["ip", "link", "del", link]);
  }
  for (const table of tables().match(/diyc_drl\d/g) ?? []) sh(["nft", "delete", "table", "ip", table]);
  rmSync(spare, { recursive: true, force: true });
  for (const store of [storeA, storeB, storeC]) removeStore(store);
  // Proof: no link, no table, no record.
  expect(links()).not.toMatch(/\bdrl\d/);
  expect(tables()).not.toMatch(/diyc_drl/);
  expect(readdirSync(registry).filter((e) => !e.startsWith("."))).toEqual([]);
  rmSync(registry, { recursive: true, force: true });
});

describeRoot("a network shared by stores", () => {
  test("two first uses at once: every setup succeeds, one bridge, one record", async () => {
    for (let round = 0; round < 3; round++) {
      const setups = [storeA, storeB, storeA, storeB, storeC, storeC].map((store) =>
        Bun.spawn([DIYC, "--root", store, "network", "setup", "--bridge", "drl0", "--subnet", "10.231.10.0/24"], {
          stdout: "pipe", stderr: "pipe", env: { PATH, DIYC_NETWORKS: registry },
        }));
      const results = await Promise.all(setups.map(async (p) => [await p.exited, await new Response(p.stderr).text()]));
      expect(results).toEqual(setups.map(() => [0, ""]));
      expect(links().match(/: drl0:/g)?.length).toBe(1);
      expect(JSON.parse(readFileSync(join(registry, "drl0", "network.json"), "utf8")).config.subnet).toBe("10.231.10.0/24");
      if (round < 2) {
        // Whichever store won the setup owns it, and cleans it.
        const owner = [storeA, storeB, storeC].find((s) => diyc(s, ["network", "clean", "--bridge", "drl0"]).code === 0);
        expect(owner).toBeDefined();
        expect(linkExists("drl0")).toBe(false);
      }
    }
  });

  test("the seed's -i ADDR in a second store: one address space, containers of both reach each other", () => {
    // drl0 was set up above by one of the stores; A and B both use it, with a container named alike.
    expect(diyc(storeA, ["run", "-d", "--net", "drl0", "-i", "10.231.10.5", "rl-n1", "busybox", "sleep", "60"])).toMatchObject({ code: 0, stderr: "" });
    expect(diyc(storeB, ["run", "-d", "--cap-add", "NET_RAW", "--net", "drl0", "-i", "10.231.10.6", "rl-n1", "busybox", "sleep", "60"])).toMatchObject({ code: 0, stderr: "" });
    expect(diyc(storeB, ["run", "--rm", "--net", "drl0", "-i", "10.231.10.5", "rl-n2", "busybox", "true"])).toEqual({
      code: 125, stdout: "", stderr: `diyc: address 10.231.10.5 is already in use by container rl-n1 of store ${storeA}\n`,
    });
    // The lowest free address is free in every store.
    const auto = diyc(storeC, ["run", "--rm", "--net", "drl0", "rl-n3", "busybox", "sh", "-c", "ip -o -4 addr show eth0 | awk '{print $4}'"]);
    expect(auto).toMatchObject({ code: 0, stdout: "10.231.10.2/24\n" });
    expect(leases("drl0")).toEqual(["10.231.10.5", "10.231.10.6"]);
    // Two veths, one per store's rl-n1 (rl-n3's goes with its namespace, as the kernel tears it down).
    expect(until(() => portsOf("drl0").length === 2)).toBe(true);
    // busybox ping opens a raw socket: NET_RAW is not in the default set.
    const ping = diyc(storeB, ["exec", "rl-n1", "ping", "-c", "1", "-W", "2", "10.231.10.5"]);
    expect(ping).toMatchObject({ code: 0 });
    // Each store's ps shows its own container with its own address.
    expect(JSON.parse(diyc(storeA, ["ps", "--format", "json"]).stdout).map((c: { name: string; ip: string }) => [c.name, c.ip])).toEqual([["rl-n1", "10.231.10.5"]]);
    expect(JSON.parse(diyc(storeB, ["ps", "--format", "json"]).stdout).map((c: { name: string; ip: string }) => [c.name, c.ip])).toEqual([["rl-n1", "10.231.10.6"]]);
  });

  test("network clean removes only what the store owns", () => {
    const owner = JSON.parse(readFileSync(join(registry, "drl0", "network.json"), "utf8")).owner as string;
    const other = [storeA, storeB, storeC].find((s) => s !== owner)!;
    const veths = portsOf("drl0");
    const refused = diyc(other, ["network", "clean", "--bridge", "drl0"]);
    expect(refused).toEqual({
      code: 125, stdout: "", stderr: `diyc: network drl0 belongs to store ${owner}: clean it from there (diyc --root ${owner} network clean --bridge drl0)\n`,
    });
    // Nothing of it touched: the table, the bridge, both stores' veths, the leases.
    expect(tables()).toContain("table ip diyc_drl0");
    expect(portsOf("drl0")).toEqual(veths);
    expect(leases("drl0")).toEqual(["10.231.10.5", "10.231.10.6"]);
    // The owner itself may not remove it from under another store's container.
    const users = [storeA, storeB].filter((s) => s !== owner);
    const inUse = diyc(owner, ["network", "clean", "--bridge", "drl0"]);
    expect(inUse.code).toBe(125);
    expect(inUse.stderr).toBe(`diyc: network drl0 is in use by container ${users.map((s) => `rl-n1 of store ${s}`).join(", ")}: remove ${users.length > 1 ? "them" : "it"} first\n`);
    expect(portsOf("drl0")).toEqual(veths);
    for (const store of [storeA, storeB]) expect(diyc(store, ["rm", "-f", "rl-n1"])).toMatchObject({ code: 0, stderr: "" });
    expect(diyc(owner, ["network", "clean", "--bridge", "drl0"])).toMatchObject({ code: 0, stderr: "" });
    expect(linkExists("drl0")).toBe(false);
    expect(tables()).not.toContain("diyc_drl0");
    expect(existsSync(join(registry, "drl0"))).toBe(false);
  });

  test("a deleted store's leftovers: used by another store, then removed by its network clean", () => {
    const gone = tempStore("diyc-rl-gone-");
    let crashed = false;
    try {
      expect(diyc(gone, ["network", "setup", "--bridge", "drl1", "--subnet", "10.231.11.0/24"]).code).toBe(0);
      expect(diyc(gone, ["run", "-d", "--net", "drl1", "-i", "10.231.11.7", "rl-d1", "busybox", "sleep", "60"]).code).toBe(0);
      // The store dies with its container (a crash: monitor first, so no cleanup hook runs), then is deleted.
      const state = JSON.parse(readFileSync(join(gone, "containers", "rl-d1", "state.json"), "utf8"));
      process.kill(state.monitor.pid, "SIGKILL");
      process.kill(state.init.pid, "SIGKILL");
      const deadline = Date.now() + 5000;
      while ((processExists(state.init.pid) || processExists(state.monitor.pid)) && Date.now() < deadline) Bun.sleepSync(20);
      for (const dir of storeCgroups(gone)) rmdirSync(join(dir, "rl-d1")), rmdirSync(dir);
      expect(mountsUnder(gone)).toEqual([]);
      crashed = true;
    } finally {
      // Deleted whatever happened above; a failure before the crash was staged leaves its container to rm -f first.
      if (!crashed && existsSync(join(gone, "containers", "rl-d1"))) diyc(gone, ["rm", "-f", "rl-d1"]);
      rmSync(gone, { recursive: true, force: true });
    }
    expect(leases("drl1")).toEqual(["10.231.11.7"]);

    // Another store uses the network and even the dead store's address.
    expect(diyc(storeB, ["run", "--rm", "--net", "drl1", "-i", "10.231.11.7", "rl-d2", "busybox", "true"])).toMatchObject({ code: 0, stderr: "" });
    expect(leases("drl1")).toEqual([]);
    expect(diyc(storeB, ["network", "ls"]).stdout).toMatch(/\ndrl1\s+drl1\s+10\.231\.11\.0\/24/);
    // Nobody owns it any more: any store's clean removes it all.
    expect(diyc(storeB, ["network", "clean", "--bridge", "drl1"])).toMatchObject({ code: 0, stderr: "" });
    expect(linkExists("drl1")).toBe(false);
    expect(tables()).not.toContain("diyc_drl1");
    expect(existsSync(join(registry, "drl1"))).toBe(false);
  });

  test("a bridge diyc made that no registry knows (an old default): adopted by setup, removed by clean", () => {
    const lost = mkdtempSync("/tmp/diyc-rl-lost-");
    expect(diyc(storeC, ["network", "setup", "--bridge", "drl2", "--subnet", "10.231.12.0/24"], lost).code).toBe(0);
    expect(diyc(storeC, ["network", "setup", "--bridge", "drl3", "--subnet", "10.231.13.0/24"], lost).code).toBe(0);
    rmSync(lost, { recursive: true, force: true }); // the registry that knew them is gone
    // A fresh store on this host uses the old bridge.
    expect(diyc(storeA, ["network", "setup", "--bridge", "drl2", "--subnet", "10.231.12.0/24"])).toMatchObject({ code: 0, stderr: "" });
    expect(diyc(storeA, ["run", "--rm", "--cap-add", "NET_RAW", "--net", "drl2", "-i", "10.231.12.9", "rl-o1", "busybox", "sh", "-c", "ping -c 1 -W 2 10.231.12.1 >/dev/null && echo reached"]))
      .toMatchObject({ code: 0, stdout: "reached\n" });
    expect(diyc(storeA, ["network", "clean", "--bridge", "drl2"])).toMatchObject({ code: 0, stderr: "" });
    expect(linkExists("drl2")).toBe(false);
    // And one nobody set up again: clean alone removes it (and its table).
    expect(diyc(storeB, ["network", "clean", "--bridge", "drl3", "--subnet", "10.231.13.0/24"])).toMatchObject({ code: 0, stderr: "" });
    expect(linkExists("drl3")).toBe(false);
    expect(tables()).not.toMatch(/diyc_drl[23]/);
  });

  test("a bridge that is not diyc's, or diyc's for another subnet, is never adopted nor removed", () => {
    // diyc's, for 10.231.17.0/24, in a registry of its own: to this registry it is another network's.
    const elsewhere = mkdtempSync("/tmp/diyc-rl-elsewhere-");
    try {
      expect(diyc(storeC, ["network", "setup", "--bridge", "drl7", "--subnet", "10.231.17.0/24"], elsewhere).code).toBe(0);
      expect(diyc(storeA, ["network", "setup", "--bridge", "drl7", "--subnet", "10.231.18.0/24"])).toEqual({
        code: 125, stdout: "", stderr: "diyc: link drl7 already exists and was not created by diyc for this network: choose another --bridge\n",
      });
      expect(diyc(storeA, ["network", "clean", "--bridge", "drl7", "--subnet", "10.231.18.0/24"])).toMatchObject({ code: 0, stderr: "" });
      expect(linkExists("drl7")).toBe(true);
      expect(tables()).toContain("table ip diyc_drl7");
    } finally {
      expect(diyc(storeC, ["network", "clean", "--bridge", "drl7"], elsewhere).code).toBe(0);
      rmSync(elsewhere, { recursive: true, force: true });
    }
    expect(linkExists("drl7")).toBe(false);
    expect(sh(["ip", "link", "add", "drl5", "type", "bridge"]).code).toBe(0);
    try {
      expect(diyc(storeA, ["network", "setup", "--bridge", "drl5", "--subnet", "10.231.15.0/24"])).toEqual({
        code: 125, stdout: "", stderr: "diyc: link drl5 already exists and was not created by diyc for this network: choose another --bridge\n",
      });
      expect(diyc(storeA, ["network", "clean", "--bridge", "drl5", "--subnet", "10.231.15.0/24"])).toMatchObject({ code: 0, stderr: "" });
      expect(linkExists("drl5")).toBe(true);
    } finally {
      sh(["ip", "link", "del", "drl5"]);
    }
  });
});

describeRoot("refusals that name what is in the way", () => {
  test("a subnet overlapping another network or a host route: pool overlaps with ...", () => {
    expect(diyc(storeA, ["network", "setup", "--bridge", "drl4", "--subnet", "10.231.14.0/24"]).code).toBe(0);
    expect(diyc(storeB, ["network", "setup", "--bridge", "drl5", "--subnet", "10.231.14.128/25"])).toEqual({
      code: 125, stdout: "", stderr: "diyc: pool overlaps with network drl4 (10.231.14.0/24 on drl4): choose another --subnet\n",
    });
    expect(diyc(storeB, ["network", "setup", "--bridge", "drl5", "--subnet", "10.231.0.0/16"])).toMatchObject({
      code: 125, stderr: expect.stringMatching(/^diyc: pool overlaps with network drl4 \(10\.231\.14\.0\/24 on drl4\): choose another --subnet\n$/),
    });
    // A host route of the test's own: a veth pair drl6/drl8 with an address (no dummy module here).
    expect(sh(["ip", "link", "add", "drl6", "type", "veth", "peer", "name", "drl8"]).code).toBe(0);
    expect(sh(["ip", "addr", "add", "10.231.16.1/24", "dev", "drl6"]).code).toBe(0);
    expect(sh(["ip", "link", "set", "drl8", "up"]).code).toBe(0);
    expect(sh(["ip", "link", "set", "drl6", "up"]).code).toBe(0);
    expect(diyc(storeB, ["network", "setup", "--bridge", "drl7", "--subnet", "10.231.16.0/25"])).toEqual({
      code: 125, stdout: "", stderr: "diyc: pool overlaps with the host's route 10.231.16.0/24 dev drl6: choose another --subnet\n",
    });
    sh(["ip", "link", "del", "drl6"]);
    // Nothing was made for the refused ones; setting up drl4 again is still fine.
    expect([linkExists("drl5"), linkExists("drl7"), existsSync(join(registry, "drl5")), existsSync(join(registry, "drl7"))]).toEqual([false, false, false, false]);
    expect(tables()).not.toMatch(/diyc_drl[57]/);
    expect(diyc(storeA, ["network", "setup", "--bridge", "drl4", "--subnet", "10.231.14.0/24"])).toMatchObject({ code: 0, stderr: "" });
  });

  test("-p HOSTPORT:CTRPORT refuses a port a host service has bound (tcp and udp), saying which", async () => {
    const tcp = Bun.listen({ hostname: "127.0.0.1", port: 18601, socket: { data() {} } });
    const udpSocket = Bun.spawn(["python3", "-c", "import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 18602)); print('ok', flush=True); time.sleep(60)"], { stdout: "pipe" });
    try {
      const deadline = Date.now() + 5000;
      while (!readFileSync("/proc/net/udp", "utf8").includes(`:${(18602).toString(16).toUpperCase()} `) && Date.now() < deadline) Bun.sleepSync(20);
      const t = diyc(storeA, ["run", "--rm", "--net", "drl4", "-p", "18601:80", "rl-p1", "busybox", "true"]);
      expect(t.code).toBe(125);
      expect(t.stderr).toBe(`diyc: host port 18601/tcp is already in use on the host: bound by 127.0.0.1:18601, pid ${process.pid} (${readFileSync("/proc/self/comm", "utf8").trim()})\n`);
      const u = diyc(storeA, ["run", "--rm", "--net", "drl4", "-p", "127.0.0.1:18602:53/udp", "rl-p2", "busybox", "true"]);
      expect(u.code).toBe(125);
      expect(u.stderr).toBe(`diyc: host port 18602/udp is already in use on the host: bound by 127.0.0.1:18602, pid ${udpSocket.pid} (python3)\n`);
      // Refused before anything was claimed.
      expect(leases("drl4")).toEqual([]);
      expect(existsSync(join(registry, ".ports")) ? readdirSync(join(registry, ".ports")).filter((f) => !f.startsWith(".")) : []).toEqual([]);
      // A port on another address than the service's: its own, and allowed.
      expect(diyc(storeA, ["run", "--rm", "--net", "drl4", "-p", "10.231.14.1:18602:53/udp", "rl-p3", "busybox", "true"])).toMatchObject({ code: 0, stderr: "" });
    } finally {
      tcp.stop(true);
      udpSocket.kill();
      await udpSocket.exited;
    }
    expect(diyc(storeA, ["run", "--rm", "--net", "drl4", "-p", "18601:80", "rl-p4", "busybox", "true"])).toMatchObject({ code: 0, stderr: "" });
  });

  test("what a killed create left on the network: claim files swept by the next claim, lease and port of a half-made container released by rm -f", () => {
    mkdirSync(join(registry, "drl4", "leases"), { recursive: true });
    mkdirSync(join(registry, ".ports"), { recursive: true });
    writeFileSync(join(registry, "drl4", "leases", ".claim-999999-abc"), "rl-x\n");
    writeFileSync(join(registry, ".ports", ".claim-999999-abc"), "{}\n");
    expect(diyc(storeA, ["run", "--rm", "--net", "drl4", "-p", "18603:80", "rl-c1", "busybox", "true"])).toMatchObject({ code: 0, stderr: "" });
    expect(readdirSync(join(registry, "drl4", "leases"))).toEqual([]);
    expect(readdirSync(join(registry, ".ports"))).toEqual([]);

    // A create killed after its lease and port claim but before container.json: rm -f releases both.
    mkdirSync(join(storeA, "containers", "rl-h1", "upper"), { recursive: true });
    writeFileSync(join(registry, "drl4", "leases", "10.231.14.9"), `rl-h1\n${storeA}\n`);
    writeFileSync(join(registry, ".ports", "tcp-18604"), JSON.stringify({ hostPort: 18604, containerPort: 80, protocol: "tcp", container: "rl-h1", network: "drl4", containerIp: "10.231.14.9", store: storeA }) + "\n");
    expect(diyc(storeA, ["ps", "-a"]).stdout).toMatch(/\nrl-h1\s+""\s+Incomplete\n/);
    expect(diyc(storeA, ["rm", "-f", "rl-h1"])).toMatchObject({ code: 0, stdout: "rl-h1\n", stderr: "" });
    expect(readdirSync(join(registry, "drl4", "leases"))).toEqual([]);
    expect(readdirSync(join(registry, ".ports"))).toEqual([]);
    expect(existsSync(join(storeA, "containers", "rl-h1"))).toBe(false);
    expect(diyc(storeA, ["network", "clean", "--bridge", "drl4"])).toMatchObject({ code: 0, stderr: "" });
    expect(linkExists("drl4")).toBe(false);
  });
});

describeRoot("fault injection: diyc run killed at spread-out moments", () => {
  test("diyc run (and some monitors) killed: one rm -f sweep leaves nothing of the store; a new container still starts and gets an address", async () => {
    const store = tempStore("diyc-rl-fault-");
    try {
      await faultInjection(store);
    } finally {
      for (const name of existsSync(join(store, "containers")) ? readdirSync(join(store, "containers")) : []) diyc(store, ["rm", "-f", name]);
      diyc(store, ["network", "clean", "--bridge", "drl9"]);
      removeStore(store);
    }
    expect(linkExists("drl9")).toBe(false);
    expect(tables()).not.toContain("diyc_drl9");
  });
});

async function faultInjection(store: string): Promise<void> {
    expect(diyc(store, ["network", "setup", "--bridge", "drl9", "--subnet", "10.231.29.0/24"]).code).toBe(0);
    // The built-in image is made on first use: made now, so that the kills below land across the create itself.
    expect(diyc(store, ["run", "--rm", "--net", "drl9", "rl-f-warm", "busybox", "true"]).code).toBe(0);
    const names: string[] = [];
    const monitors: number[] = [];
    for (let i = 0; i < 24; i++) {
      const name = `rl-f${i}`;
      names.push(name);
      const run = Bun.spawn([DIYC, "--root", store, "run", "-d", "--net", "drl9", "-p", `${18610 + i}:80`, name, "busybox", "sleep", "60"], {
        stdin: "ignore", stdout: "ignore", stderr: "ignore", env: { PATH, DIYC_NETWORKS: registry },
      });
      // Spread over the whole create: from before the name is claimed to after the start.
      await Bun.sleep((i * 7) % 90);
      run.kill("SIGKILL");
      await run.exited;
      let monitor: number | undefined;
      try {
        monitor = JSON.parse(readFileSync(join(store, "containers", name, "state.json"), "utf8")).monitor.pid;
      } catch {
        // killed before it had a monitor on record
      }
      if (monitor === undefined) continue;
      monitors.push(monitor);
      // Every third one: its monitor dies too, a little later (the container dies with it).
      if (i % 3 === 0) {
        await Bun.sleep(i % 20);
        try {
          process.kill(monitor, "SIGKILL");
        } catch {
          // already gone: its container ended or was abandoned
        }
      }
    }
    // The sweep: one rm -f of every container the store lists (ps also removes lock files no container owns).
    const listed = JSON.parse(diyc(store, ["ps", "-a", "--format", "json"]).stdout).map((c: { name: string }) => c.name);
    expect(listed.every((n: string) => names.includes(n))).toBe(true);
    // The kills did land mid-create: containers and monitors were left to sweep (whether a
    // lease is left depends on how far each got, which the machine's speed decides).
    expect(listed.length).toBeGreaterThan(0);
    expect(monitors.length).toBeGreaterThan(0);
    expect(diyc(store, ["rm", "-f", ...listed])).toMatchObject({ code: 0, stderr: "" });
    expect(until(() => monitors.every((pid) => !processExists(pid)))).toBe(true);
    expect(readdirSync(join(store, "containers"))).toEqual([]);
    expect(readdirSync(join(store, "locks"))).toEqual([]);
    expect(storeCgroups(store)).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
    expect(leases("drl9")).toEqual([]);
    expect(existsSync(join(registry, ".ports")) ? readdirSync(join(registry, ".ports")) : []).toEqual([]);
    expect(until(() => portsOf("drl9").length === 0)).toBe(true);
    const chain = sh(["nft", "list", "chain", "ip", "diyc_drl9", "ports"]);
    expect(chain.code).toBe(0);
    expect(chain.stdout).not.toContain("diyc container");
    // And the store still works.
    const fresh = diyc(store, ["run", "--rm", "--net", "drl9", "rl-f-new", "busybox", "sh", "-c", "ip -o -4 addr show eth0 | awk '{print $4}'"]);
    expect(fresh).toMatchObject({ code: 0, stdout: "10.231.29.2/24\n", stderr: "" });
    expect(diyc(store, ["network", "clean", "--bridge", "drl9"])).toMatchObject({ code: 0, stderr: "" });
}
