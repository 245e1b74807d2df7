// The Node client against a live bitrag server (real gRPC over loopback, Milvus Lite, the local
// embedder): health, create, ingest, search by text and by vector, streamed Ask, typed errors from
// the rich status. Run by `npm test`, and by the Python suite (tests/clients/test_node_client.py).

import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import * as grpc from "@grpc/grpc-js";

import {
  AlreadyExistsError, BitragClient, BitragError, InvalidArgumentError, NotFoundError, decodeRichStatus,
  fromServiceError, type AnswerChunk, type Document,
} from "../src";
import { STATUS_DETAILS_KEY } from "../src/errors";
import { liveServer, type LiveServer } from "./server";

const unique = (prefix: string) => `${prefix}_${randomUUID().replace(/-/g, "").slice(0, 10)}`;

const DOCS: Document[] = [
  { id: "codes.md", text: "Binary codes live in RAM inside the Milvus binary collection. Each code packs one sign bit per dimension.",
    metadata: { year: 2024, tags: ["ram", "codes"], nested: { a: 1.5, ok: true, none: null } } },
  { id: "floats.md", text: "The float32 rows live on disk in one memory-mapped file and are read only to rescore candidates.",
    metadata: { year: 2023 } },
  { id: "bread.md", text: "Sourdough bread needs flour, water, salt and a lively starter culture.", metadata: { year: 2020 } },
];

function unitVectors(n: number, dim: number, seed = 7): Float32Array[] {
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dim }, rnd);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

describe("BitragClient against a live server", () => {
  let server: LiveServer;
  let client: BitragClient;
  const textCollection = unique("node_text");
  const vectorCollection = unique("node_vec");

  before(async () => {
    server = await liveServer();
    client = new BitragClient(server.target, { timeoutMs: 120_000 });
  });

  after(async () => {
    client?.close();
    await server?.stop();
  });

  test("health reports SERVING for the server and the service", async () => {
    assert.equal(await client.health(), "SERVING");
    assert.equal(await client.health("bitrag.v1.BitragService"), "SERVING");
  });

  test("create a collection, ingest documents, search by text", async () => {
    const info = await client.createCollection(textCollection, { description: "node test" });
    assert.equal(info.name, textCollection);
    assert.equal(info.dimension, 384);
    assert.equal(info.rows, 0);
    const progress: [number, number][] = [];
    const res = await client.ingestDocuments(textCollection, DOCS, { batchSize: 2, onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(progress, [[2, 3], [3, 3]]);
    assert.equal(res.documentsAdded, 3);
    assert.equal(res.chunksWritten, 3);
    const again = await client.ingestDocuments(textCollection, DOCS);
    assert.equal(again.documentsUnchanged, 3);

    const found = await client.search(textCollection, "Where do the binary codes live?", { topK: 2 });
    assert.equal(found.hits.length, 2);
    const top = found.hits[0];
    assert.equal(top.documentId, "codes.md");
    assert.equal(top.chunkId, "codes.md#0");
    // metadata arrives as a plain object: numbers, lists, nested objects, null
    assert.deepEqual(top.metadata, DOCS[0].metadata);
    assert.ok(top.score > found.hits[1].score);
    assert.equal(found.diagnostics.mode, "AUTO");
    assert.ok(["BINARY_RESCORED", "FALLBACK_WIDENED", "FALLBACK_EXACT", "EXACT"].includes(found.diagnostics.path));
    assert.ok(found.diagnostics.candidatesExamined > 0);
    assert.ok(["sign", "sq2", "sq4"].includes(found.diagnostics.tier));
    assert.ok(Object.keys(found.diagnostics.timingsUs).includes("embed"));

    const filtered = await client.search(textCollection, "where do things live?", { topK: 5, filter: "year >= 2023", mode: "EXACT" });
    assert.deepEqual(filtered.hits.map((h) => h.documentId).sort(), ["codes.md", "floats.md"]);
    assert.equal(filtered.diagnostics.path, "EXACT");

    const described = await client.describeCollection(textCollection);
    assert.equal(described.rows, 3);
    assert.equal(described.bytesInRam, 3 * 384 / 8);
    assert.ok((await client.listCollections()).some((c) => c.name === textCollection));
  });

  test("create a raw-vector collection, ingest vectors, search by vector", async () => {
    const dim = 32;
    const created = await client.createCollection(vectorCollection, { dimension: dim, embedder: "none", tier: "sq2" });
    assert.equal(created.tier, "sign"); // ranked by the sign codes until calibration fits the 2-bit codes
    assert.equal(created.plan.pool, 0); // not measured yet
    const vecs = unitVectors(40, dim);
    const res = await client.ingestVectors(vectorCollection, vecs, {
      ids: vecs.map((_, i) => `v${i}`), texts: vecs.map((_, i) => `vector ${i}`),
      metadata: vecs.map((_, i) => ({ i, even: i % 2 === 0 })), batchSize: 16,
    });
    assert.equal(res.chunksWritten, 40);
    const found = await client.search(vectorCollection, vecs[11], { topK: 3, mode: "RESCORED" });
    assert.equal(found.hits[0].chunkId, "v11");
    assert.ok(Math.abs(found.hits[0].score - 1) < 1e-4, String(found.hits[0].score));
    assert.deepEqual(found.hits[0].metadata, { i: 11, even: false });
    const plain = await client.search(vectorCollection, Array.from(vecs[4]), { topK: 1, filter: "even == true" });
    assert.equal(plain.hits[0].chunkId, "v4");
    const binary = await client.search(vectorCollection, vecs[4], { topK: 1, mode: "BINARY_ONLY" });
    assert.equal(binary.diagnostics.path, "BINARY_ONLY");
    assert.equal(binary.diagnostics.milvusCalls, 1);
    assert.equal(binary.hits[0].hammingDistance, 0);
    const deleted = await client.deleteDocuments(vectorCollection, ["v4", "never-ingested"]);
    assert.equal(deleted.chunksDeleted, 1);
    assert.deepEqual(deleted.missing, ["never-ingested"]);
  });

  test("ask streams text, then a summary with numbered sources", async () => {
    const chunks: AnswerChunk[] = [];
    for await (const chunk of client.ask(textCollection, "Where do the binary codes live?", { topK: 2, cache: false })) {
      chunks.push(chunk);
    }
    const last = chunks[chunks.length - 1];
    assert.ok(last.summary, "the last message is the summary");
    assert.ok(chunks.slice(0, -1).every((c) => c.summary === undefined && typeof c.text === "string"));
    assert.ok(chunks.length >= 2, "at least one text piece before the summary");
    const s = last.summary;
    assert.equal(chunks.slice(0, -1).map((c) => c.text).join(""), s.answer);
    assert.deepEqual(s.sources.map((x) => x.number), [1, 2]);
    assert.equal(s.sources[0].documentId, "codes.md");
    assert.deepEqual(s.sources[0].metadata, DOCS[0].metadata);
    assert.ok(s.cited.every((n) => n >= 1 && n <= 2));
    assert.ok(["BYPASS", "DISABLED"].includes(s.cache), s.cache); // DISABLED: a server without Redis
    assert.ok(s.retrieval !== null && s.timings.totalUs > 0);
    if (!s.generated) assert.equal(s.model, "extractive");
  });

  test("errors are typed and name the field, from the rich status", async () => {
    await assert.rejects(client.describeCollection("no_such_collection_node"), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.equal(err.codeName, "NOT_FOUND");
      assert.equal(err.field, "name");
      return true;
    });
    await assert.rejects(client.createCollection(textCollection), AlreadyExistsError);
    let caught: BitragError | undefined;
    try {
      await client.search(textCollection, "x", { topK: 0 });
    } catch (err) {
      caught = err as BitragError;
    }
    assert.ok(caught instanceof InvalidArgumentError, String(caught));
    assert.equal(caught.field, "top_k");
    assert.ok(caught.message.startsWith("top_k: "));
    assert.deepEqual(caught.violations, [{ field: "top_k", description: caught.message }]);
    // the standard google.rpc.Status alone carries the field (without the legacy trailer)
    const raw = caught.metadata?.get(STATUS_DETAILS_KEY)[0];
    assert.ok(Buffer.isBuffer(raw));
    const rich = decodeRichStatus(raw);
    assert.equal(rich.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(rich.typeUrls, ["type.googleapis.com/google.rpc.BadRequest"]);
    const onlyRich = new grpc.Metadata();
    onlyRich.set(STATUS_DETAILS_KEY, raw);
    const mapped = fromServiceError({ code: grpc.status.INVALID_ARGUMENT, details: caught.message, metadata: onlyRich });
    assert.ok(mapped instanceof InvalidArgumentError);
    assert.equal(mapped.field, "top_k");
    assert.equal(caught.metadata?.get("bitrag-field")[0], "top_k"); // kept for one version
  });

  test("an Ask stream that fails ends with a typed error", async () => {
    await assert.rejects(async () => {
      for await (const _ of client.ask(textCollection, "")) { /* nothing arrives */ }
    }, (err: unknown) => err instanceof InvalidArgumentError && err.field === "question");
    await assert.rejects(async () => {
      for await (const _ of client.ask("no_such_collection_node", "why?")) { /* nothing */ }
    }, NotFoundError);
  });

  test("client-side checks: unknown mode, mismatched lists", async () => {
    await assert.rejects(client.search(textCollection, "x", { mode: "FAST" as never }), /mode: FAST/);
    await assert.rejects(client.ingestVectors(vectorCollection, unitVectors(2, 32), { ids: ["a"] }), /ids: 1 entries for 2/);
  });
});
