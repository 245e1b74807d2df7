// The Node client against bitrag's own TLS + token-auth server (issue 16): started by
// tests/clients/test_node_client.py with certificates made in the test and a tokens file, and
// passed here as BITRAG_AUTH_TARGET / BITRAG_AUTH_CA / BITRAG_AUTH_WRITE / BITRAG_AUTH_READ
// (run by hand without them, the suite is skipped: it needs that server).

import { describe, test } from "node:test";
import * as assert from "node:assert/strict";

import { BitragClient, PermissionDeniedError, UnauthenticatedError } from "../src";

const target = process.env.BITRAG_AUTH_TARGET ?? "";
const caFile = process.env.BITRAG_AUTH_CA ?? "";
const writeToken = process.env.BITRAG_AUTH_WRITE ?? "";
const readToken = process.env.BITRAG_AUTH_READ ?? "";

function client(token?: string): BitragClient {
  return new BitragClient(target, { tls: { caFile }, token, timeoutMs: 30_000 });
}

describe("bitrag server with TLS and bearer tokens", { skip: target ? false : "needs BITRAG_AUTH_TARGET" }, () => {
  test("health is open, every other call needs a valid token", async () => {
    const anon = client();
    const wrong = client("not-a-token");
    try {
      assert.equal(await anon.health(), "SERVING");
      await assert.rejects(anon.listCollections(), UnauthenticatedError);
      await assert.rejects(wrong.listCollections(), UnauthenticatedError);
    } finally {
      anon.close();
      wrong.close();
    }
  });

  test("a write token writes; a read token reads and is refused writes", async () => {
    const name = `node_auth_${Date.now()}`;
    const w = client(writeToken);
    const r = client(readToken);
    try {
      await w.createCollection(name, { embedder: "none", dimension: 8 });
      await w.ingestVectors(name, [[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0]], { ids: ["a", "b"] });
      const res = await r.search(name, [0, 1, 0, 0, 0, 0, 0, 0], { topK: 1 });
      assert.equal(res.hits[0].chunkId, "b");
      assert.ok((await r.listCollections()).some((c) => c.name === name));
      await assert.rejects(r.createCollection(`${name}_x`, { embedder: "none", dimension: 8 }), PermissionDeniedError);
      await assert.rejects(r.dropCollection(name), PermissionDeniedError);
      await w.dropCollection(name);
    } finally {
      w.close();
      r.close();
    }
  });
});
