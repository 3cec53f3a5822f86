// Registries that want credentials: htpasswd (basic auth) behind TLS with a
// certificate made here by openssl, and the bearer-token flow with a small
// token server in this test (the registry's auth.token settings, JWTs
// signed with a key whose certificate the registry trusts).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createPrivateKey, randomUUID, sign } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRoot, removeStore } from "../helpers/diyc";
import { diycAsync, makeCertificate, push, startRegistry, type RunningRegistry } from "../helpers/registry";
import { busyboxEntries, OciLayoutWriter } from "../fixtures/oci-layout";

const haveTools = ["/usr/bin/docker-registry", "/usr/bin/skopeo", "/usr/bin/htpasswd", "/usr/bin/openssl", "/bin/busybox"].every((f) => existsSync(f));
const describeAuth = describe.skipIf(!isRoot || !haveTools);

let tmp: string;
let layoutDir: string;

function buildLayout(): void {
  layoutDir = join(tmp, "layout");
  const writer = new OciLayoutWriter(layoutDir);
  const image = writer.image({
    layers: [{ compression: "gzip", entries: [...busyboxEntries(), { name: "secret.txt", content: "behind auth" }] }],
    config: { Cmd: ["cat", "/secret.txt"] },
  });
  writer.writeIndex({ app: image });
}

describeAuth("htpasswd behind TLS", () => {
  let registry: RunningRegistry;
  let ca: string;

  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/diyc-registry-auth-");
    buildLayout();
    const tls = makeCertificate(tmp, "registry");
    ca = tls.cert;
    const htpasswd = join(tmp, "htpasswd");
    writeFileSync(htpasswd, execFileSync("htpasswd", ["-Bbn", "alice", "wonderland"]));
    registry = await startRegistry(join(tmp, "registry"), { tls, htpasswd });
    await push(layoutDir, "app", `${registry.host}/private/app:1`, ["--dest-tls-verify=false", "--dest-creds", "alice:wonderland"]);
  });

  afterAll(async () => {
    await registry?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("no CA: a TLS error; no login: 401 with a hint; a wrong password is not stored; login, pull, run", async () => {
    const root = mkdtempSync("/tmp/diyc-auth-store-");
    const ref = `${registry.host}/private/app:1`;
    try {
      const untrusted = await diycAsync(root, ["pull", ref]);
      expect(untrusted.code).toBe(125);
      expect(untrusted.stderr).toMatch(/^diyc: 127\.0\.0\.1:\d+\/private\/app: manifest 1: cannot reach https:\/\/.*certificate/i);
      expect(untrusted.stderr.trim().split("\n")).toHaveLength(1);

      writeFileSync(join(root, "registries.json"), JSON.stringify({ registries: { [registry.host]: { ca } } }));
      const anonymous = await diycAsync(root, ["pull", ref]);
      expect(anonymous.code).toBe(125);
      expect(anonymous.stderr).toBe(`diyc: ${registry.host}/private/app: the registry wants a login: diyc login ${registry.host}\n`);

      const wrong = await diycAsync(root, ["login", "-u", "alice", "--password-stdin", registry.host], "nope\n");
      expect(wrong.code).toBe(125);
      expect(wrong.stderr).toMatch(/^diyc: login to 127\.0\.0\.1:\d+ failed: .*401 Unauthorized.*the credentials were refused/);
      expect(existsSync(join(root, "auth.json"))).toBe(false);

      const login = await diycAsync(root, ["login", "-u", "alice", "--password-stdin", registry.host], "wonderland\n");
      expect(login).toMatchObject({ code: 0, stdout: "Login Succeeded\n" });
      expect(statSync(join(root, "auth.json")).mode & 0o777).toBe(0o600);
      // base64 of user:password, as docker stores it
      expect(JSON.parse(readFileSync(join(root, "auth.json"), "utf8")).auths[registry.host]).toEqual({ auth: Buffer.from("alice:wonderland").toString("base64") });

      const pulled = await diycAsync(root, ["pull", "-q", ref]);
      expect(pulled.stderr).toBe("");
      expect(pulled.code).toBe(0);
      expect(pulled.stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
      const run = await diycAsync(root, ["run", "--rm", "--net", "none", "a", ref]);
      expect(run).toMatchObject({ code: 0, stdout: "behind auth" });

      expect((await diycAsync(root, ["logout", registry.host])).code).toBe(0);
      expect(readFileSync(join(root, "auth.json"), "utf8")).not.toContain(registry.host);
    } finally {
      removeStore(root);
    }
  }, 60_000);
});

describeAuth("bearer tokens (auth.token)", () => {
  let registry: RunningRegistry;
  let tokenServer: ReturnType<typeof Bun.serve>;
  const issued: { scope: string; user: string }[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/diyc-registry-token-");
    buildLayout();
    const signer = makeCertificate(tmp, "token-signer");
    const key = createPrivateKey(readFileSync(signer.key));
    const certDer = Buffer.from(readFileSync(signer.cert, "utf8").replace(/-----[A-Z ]+-----|\s/g, ""), "base64").toString("base64");
    const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");
    // The token server: pull for anyone, push for bob (basic auth), as Docker Hub's is for a public repository.
    tokenServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const url = new URL(request.url);
        const basic = request.headers.get("authorization");
        const user = basic?.startsWith("Basic ") ? Buffer.from(basic.slice(6), "base64").toString().split(":")[0]! : "";
        const password = basic?.startsWith("Basic ") ? Buffer.from(basic.slice(6), "base64").toString().split(":")[1] : undefined;
        if (basic && !(user === "bob" && password === "builder")) return new Response("bad credentials", { status: 401 });
        const access = url.searchParams.getAll("scope").flatMap((scope) => {
          const [type, name, actions] = scope.split(":");
          const allowed = actions!.split(",").filter((a) => a === "pull" || user === "bob");
          return type === "repository" ? [{ type, name, actions: allowed }] : [];
        });
        issued.push({ scope: url.searchParams.getAll("scope").join(" "), user });
        const now = Math.floor(Date.now() / 1000);
        const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", x5c: [certDer] }));
        const claims = b64url(JSON.stringify({
          iss: "diyc-test-issuer", sub: user, aud: "diyc-test-registry", exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access,
        }));
        const signature = b64url(sign("RSA-SHA256", Buffer.from(`${header}.${claims}`), key));
        return Response.json({ token: `${header}.${claims}.${signature}` });
      },
    });
    registry = await startRegistry(join(tmp, "registry"), {
      token: {
        realm: `http://127.0.0.1:${tokenServer.port}/token`, service: "diyc-test-registry",
        issuer: "diyc-test-issuer", rootCertBundle: signer.cert,
      },
    });
    await push(layoutDir, "app", `${registry.host}/public/app:1`, ["--dest-tls-verify=false", "--dest-creds", "bob:builder"]);
  });

  afterAll(async () => {
    await registry?.stop();
    tokenServer?.stop(true);
    rmSync(tmp, { recursive: true, force: true });
  });

  test("an anonymous pull answers the challenge with a token for repository:NAME:pull", async () => {
    const root = mkdtempSync("/tmp/diyc-token-store-");
    const ref = `${registry.host}/public/app:1`;
    try {
      issued.length = 0;
      const pulled = await diycAsync(root, ["pull", "--insecure-registry", registry.host, ref]);
      expect(pulled.stderr).not.toContain("diyc:");
      expect(pulled.code).toBe(0);
      expect(issued).toEqual([{ scope: "repository:public/app:pull", user: "" }]); // one token, reused for every request
      const run = await diycAsync(root, ["run", "--rm", "--net", "none", "t", ref]);
      expect(run).toMatchObject({ code: 0, stdout: "behind auth" });

      // A token server that refuses: one line, nothing stored.
      const other = mkdtempSync("/tmp/diyc-token-store-");
      try {
        writeFileSync(join(other, "auth.json"), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from("bob:wrong").toString("base64") } } }), { mode: 0o600 });
        const refused = await diycAsync(other, ["pull", "--insecure-registry", registry.host, ref]);
        expect(refused.code).toBe(125);
        expect(refused.stderr).toMatch(/^diyc: 127\.0\.0\.1:\d+\/public\/app: token server http:\/\/127\.0\.0\.1:\d+: 401 Unauthorized \(the credentials were refused\)\n$/);
      } finally {
        removeStore(other);
      }
    } finally {
      removeStore(root);
    }
  }, 60_000);
});
