// Wire messages (generated types in ./gen, snake_case as in the proto) <-> the public types.
// The only module that knows both shapes.

import type { AskSummary__Output } from "./gen/bitrag/v1/AskSummary";
import type { CalibrationInfo__Output } from "./gen/bitrag/v1/CalibrationInfo";
import type { CollectionInfo__Output } from "./gen/bitrag/v1/CollectionInfo";
import type { GateConfig } from "./gen/bitrag/v1/GateConfig";
import type { IngestResponse__Output } from "./gen/bitrag/v1/IngestResponse";
import type { SearchDiagnostics__Output } from "./gen/bitrag/v1/SearchDiagnostics";
import type { SearchResponse__Output } from "./gen/bitrag/v1/SearchResponse";
import type { Struct, Struct__Output } from "./gen/google/protobuf/Struct";
import type { Value, Value__Output } from "./gen/google/protobuf/Value";
import type * as t from "./types";

// ---- google.protobuf.Struct <-> plain objects ---------------------------------------------------

export function valueToJson(v: Value__Output | null | undefined): t.JsonValue {
  switch (v?.kind) {
    case "stringValue": return v.stringValue ?? "";
    case "numberValue": return v.numberValue ?? 0;
    case "boolValue": return v.boolValue ?? false;
    case "structValue": return structToObject(v.structValue);
    case "listValue": return (v.listValue?.values ?? []).map(valueToJson);
    default: return null;
  }
}

/** A Struct from the wire -> a plain object (numbers stay numbers, lists arrays). */
export function structToObject(s: Struct__Output | null | undefined): t.Metadata {
  const out: t.Metadata = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

export function jsonToValue(v: t.JsonValue): Value {
  if (v === null) return { nullValue: "NULL_VALUE" };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new TypeError(`metadata: ${v} is not a finite number`);
    return { numberValue: v };
  }
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  if (typeof v === "object") return { structValue: objectToStruct(v as t.Metadata) };
  throw new TypeError(`metadata: unsupported value ${String(v)}`);
}

/** A plain object -> a Struct for the wire (undefined when empty). */
export function objectToStruct(o: t.Metadata | undefined): Struct | undefined {
  if (!o || Object.keys(o).length === 0) return undefined;
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = jsonToValue(v);
  return { fields };
}

// ---- vectors -------------------------------------------------------------------------------------

/** float32 little-endian bytes, as the server expects. */
export function vectorBytes(v: t.Vector): Buffer {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i], i * 4);
  return buf;
}

// ---- responses -----------------------------------------------------------------------------------

const strip = (prefix: string, value: string): string =>
  value.startsWith(prefix) ? value.slice(prefix.length) : value;

export function diagnosticsFromWire(d: SearchDiagnostics__Output): t.SearchDiagnostics {
  const timingsUs: Record<string, number> = {};
  for (const st of d.timings) timingsUs[st.stage] = st.micros;
  return {
    path: strip("SEARCH_PATH_", d.path) as t.SearchPath,
    mode: strip("SEARCH_MODE_", d.mode) as t.SearchMode,
    candidatesExamined: d.candidates_examined,
    oversample: d.oversample,
    timingsUs,
    totalUs: d.total_us,
    confidence: d.confidence,
    threshold: d.threshold,
    pools: [...d.pools],
    calibrated: d.calibrated,
    milvusCalls: d.milvus_calls,
    tier: d.tier,
    tierScored: d.tier_scored,
  };
}

export function searchFromWire(r: SearchResponse__Output): t.SearchResult {
  return {
    hits: r.hits.map((h) => ({
      chunkId: h.chunk_id,
      documentId: h.document_id,
      score: h.score,
      text: h.text,
      metadata: structToObject(h.metadata),
      hammingDistance: h.hamming_distance,
    })),
    diagnostics: diagnosticsFromWire(r.diagnostics ?? ({ timings: [], pools: [] } as unknown as SearchDiagnostics__Output)),
  };
}

export function calibrationFromWire(c: CalibrationInfo__Output | null): t.CalibrationInfo {
  return {
    calibrated: c?.calibrated ?? false,
    threshold: c?.threshold ?? 0,
    targetRecall: c?.target_recall ?? 0,
    samples: c?.samples ?? 0,
    source: c?.source ?? "",
    rowsAtCalibration: c?.rows_at_calibration ?? 0,
    calibratedUnixMs: c?.calibrated_unix_ms ?? 0,
    reliability: (c?.reliability ?? []).map((b) => ({
      lo: b.lo, hi: b.hi, count: b.count, predicted: b.predicted, measured: b.measured,
    })),
    durationUs: c?.duration_us ?? 0,
  };
}

export function collectionFromWire(c: CollectionInfo__Output): t.CollectionInfo {
  return {
    name: c.name,
    dimension: c.dimension,
    embedder: c.embedder,
    index: {
      type: c.index?.type ?? "",
      buildParams: { ...(c.index?.build_params ?? {}) },
      searchParams: { ...(c.index?.search_params ?? {}) },
    },
    defaultOversample: c.default_oversample,
    description: c.description,
    rows: c.rows,
    floatRows: c.float_rows,
    bytesInRam: c.bytes_in_ram,
    bytesOnDisk: c.bytes_on_disk,
    generation: c.generation,
    createdUnixMs: c.created_unix_ms,
    gate: {
      targetRecall: c.gate?.target_recall ?? 0,
      confidenceThreshold: c.gate?.confidence_threshold ?? 0,
      fallback: [...(c.gate?.fallback ?? [])],
      widenMaxRows: c.gate?.widen_max_rows ?? 0,
      fallbackCollection: c.gate?.fallback_collection ?? "",
      fallbackVectorField: c.gate?.fallback_vector_field ?? "",
    },
    calibration: calibrationFromWire(c.calibration),
    consistencyLevel: c.consistency_level,
    partitionKey: c.partition_key,
    numPartitions: c.num_partitions,
    tier: c.tier,
    bytesTier: c.bytes_tier,
    plan: {
      pool: c.plan?.pool ?? 0, nprobe: c.plan?.nprobe ?? 0, route: c.plan?.route ?? "",
      candidateRecall: c.plan?.candidate_recall ?? 0, exactUs: c.plan?.exact_us ?? 0,
      binaryUs: c.plan?.binary_us ?? 0, scanUs: c.plan?.scan_us ?? 0, fallbackShare: c.plan?.fallback_share ?? 0,
      rows: c.plan?.rows ?? 0,
    },
  };
}

export function gateToWire(g: Partial<t.GateConfig> | undefined): GateConfig | undefined {
  if (!g) return undefined;
  return {
    target_recall: g.targetRecall, confidence_threshold: g.confidenceThreshold, fallback: g.fallback,
    widen_max_rows: g.widenMaxRows, fallback_collection: g.fallbackCollection,
    fallback_vector_field: g.fallbackVectorField,
  };
}

export function emptyIngest(): t.IngestResult {
  return {
    documentsAdded: 0, documentsReplaced: 0, documentsUnchanged: 0, chunksWritten: 0, chunksDeleted: 0,
    generation: 0, timingsUs: {},
  };
}

/** Adds one response to a running total (batched ingest). */
export function addIngest(total: t.IngestResult, r: IngestResponse__Output): t.IngestResult {
  total.documentsAdded += r.documents_added;
  total.documentsReplaced += r.documents_replaced;
  total.documentsUnchanged += r.documents_unchanged;
  total.chunksWritten += r.chunks_written;
  total.chunksDeleted += r.chunks_deleted;
  total.generation = Math.max(total.generation, r.generation);
  for (const [stage, us] of Object.entries(r.timings_us)) total.timingsUs[stage] = (total.timingsUs[stage] ?? 0) + us;
  return total;
}

export function summaryFromWire(s: AskSummary__Output): t.AskSummary {
  return {
    answer: s.answer,
    sources: s.sources.map((x) => ({
      number: x.number, chunkId: x.chunk_id, documentId: x.document_id, score: x.score, snippet: x.snippet,
      metadata: structToObject(x.metadata),
    })),
    cited: [...s.cited],
    model: s.model,
    generated: s.generated,
    usage: {
      promptTokens: s.usage?.prompt_tokens ?? 0,
      completionTokens: s.usage?.completion_tokens ?? 0,
      totalTokens: s.usage?.total_tokens ?? 0,
    },
    timings: {
      retrievalUs: s.timings?.retrieval_us ?? 0,
      firstTokenUs: s.timings?.first_token_us ?? 0,
      totalUs: s.timings?.total_us ?? 0,
      cacheUs: s.timings?.cache_us ?? 0,
    },
    cache: strip("CACHE_STATUS_", s.cache) as t.CacheStatus,
    retrieval: s.retrieval ? diagnosticsFromWire(s.retrieval) : null,
    error: s.error ? { code: s.error.code, message: s.error.message, retryAfterS: s.error.retry_after_s } : null,
  };
}
