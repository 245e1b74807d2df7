// Search round trips of the Node client, for bench/client_rtt.py (which runs the Python SDK's side by
// side on the same server). Usage:
//   node dist/bench/search_rtt.js TARGET COLLECTION QUERIES.f32 DIM COUNT [TOPK] [TEXT...]
// QUERIES.f32: float32 little-endian rows of DIM; one warm-up pass, then COUNT timed searches
// cycling through the rows (and, when TEXT queries are given, COUNT timed text searches).
// Prints one JSON object: {"vector_ms": [...], "text_ms": [...]}.

import * as fs from "node:fs";

import { BitragClient } from "../src";

async function main(): Promise<void> {
  const [target, collection, file, dimArg, countArg, topKArg, ...texts] = process.argv.slice(2);
  const dim = Number(dimArg);
  const count = Number(countArg);
  const topK = Number(topKArg ?? 10);
  const raw = fs.readFileSync(file);
  const rows = raw.length / 4 / dim;
  const queries = Array.from({ length: rows }, (_, i) => new Float32Array(raw.buffer, raw.byteOffset + i * dim * 4, dim));
  const c = new BitragClient(target, { timeoutMs: 60_000 });
  const time = async (f: () => Promise<unknown>): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let i = 0; i < Math.min(rows, 20); i++) await c.search(collection, queries[i], { topK }); // warm-up
  const vector_ms: number[] = [];
  for (let i = 0; i < count; i++) vector_ms.push(await time(() => c.search(collection, queries[i % rows], { topK })));
  const text_ms: number[] = [];
  if (texts.length) {
    for (const q of texts.slice(0, 5)) await c.search(collection, q, { topK });
    for (let i = 0; i < count; i++) text_ms.push(await time(() => c.search(collection, texts[i % texts.length], { topK })));
  }
  c.close();
  process.stdout.write(JSON.stringify({ vector_ms, text_ms }) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
