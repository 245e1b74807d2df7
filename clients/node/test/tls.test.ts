// The client's TLS and bearer-token options, against a grpc-js TLS server in this process that
// serves the standard health service and records what the client sent (bitrag's own server gets
// TLS + token auth separately; this pins the client side: the CA is used, the name is checked,
// `authorization: Bearer <token>` is sent on every call).

import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import { BitragClient, UnavailableError } from "../src";
import { PROTO_DIR } from "../src/errors";

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stdio: "ignore" });
  return { cert, key };
}

describe("TLS and bearer token", () => {
  let dir: string;
  let server: grpc.Server;
  let port: number;
  let ca: { cert: string; key: string };
  const seen: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitrag-tls-"));
    ca = selfSigned(dir, "server");
    const def = protoLoader.loadSync("grpc/health/v1/health.proto", { includeDirs: [PROTO_DIR], enums: String });
    const pkg = grpc.loadPackageDefinition(def) as any;
    server = new grpc.Server();
    server.addService(pkg.grpc.health.v1.Health.service, {
      Check: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        seen.push(String(call.metadata.get("authorization")[0] ?? ""));
        cb(null, { status: "SERVING" });
      },
    });
    const creds = grpc.ServerCredentials.createSsl(null, [{
      cert_chain: fs.readFileSync(ca.cert), private_key: fs.readFileSync(ca.key),
    }], false);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))));
  });

  after(() => {
    server?.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("with the server's CA and a token: the call succeeds and carries the token", async () => {
    const c = new BitragClient(`localhost:${port}`, { tls: { caFile: ca.cert }, token: "s3cret", timeoutMs: 10_000 });
    try {
      assert.equal(await c.health(), "SERVING");
      assert.equal(await c.health(), "SERVING");
    } finally {
      c.close();
    }
    assert.deepEqual(seen.slice(-2), ["Bearer s3cret", "Bearer s3cret"]);
  });

  test("CA as PEM contents and a server name override for an IP target", async () => {
    const c = new BitragClient(`127.0.0.1:${port}`, {
      tls: { ca: fs.readFileSync(ca.cert, "utf8"), serverName: "localhost" }, timeoutMs: 10_000,
    });
    try {
      assert.equal(await c.health(), "SERVING");
    } finally {
      c.close();
    }
    assert.equal(seen[seen.length - 1], ""); // no token configured: no authorization header
  });

  test("another CA: the handshake fails as UNAVAILABLE", async () => {
    const other = selfSigned(dir, "other");
    const c = new BitragClient(`localhost:${port}`, { tls: { caFile: other.cert }, token: "s3cret", timeoutMs: 5_000 });
    try {
      await assert.rejects(c.health(), UnavailableError);
    } finally {
      c.close();
    }
  });

  test("plaintext against the TLS port fails", async () => {
    const c = new BitragClient(`localhost:${port}`, { timeoutMs: 3_000 });
    try {
      await assert.rejects(c.health(), (err: unknown) => err instanceof Error && "code" in err);
    } finally {
      c.close();
    }
  });
});
