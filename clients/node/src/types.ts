// The client's public types: plain objects in JavaScript's camelCase. Metadata is a plain object
// (never a google.protobuf.Struct), vectors are Float32Array or number[], counts are numbers.

/** JSON-like metadata, as stored on every chunk of a document. */
export type Metadata = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type SearchMode = "AUTO" | "RESCORED" | "BINARY_ONLY" | "EXACT";
export type SearchPath =
  | "UNSPECIFIED" | "BINARY_RESCORED" | "BINARY_ONLY" | "EXACT"
  | "FALLBACK_WIDENED" | "FALLBACK_EXACT" | "FALLBACK_COLLECTION";
export type CacheStatus = "UNSPECIFIED" | "MISS" | "HIT" | "SEMANTIC_HIT" | "BYPASS" | "UNAVAILABLE" | "DISABLED";
export type HealthStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
export type Vector = Float32Array | readonly number[];

export interface IndexSpec {
  type: string; // "" = the backend's default (BIN_FLAT on Milvus Lite, BIN_IVF_FLAT on a server)
  buildParams: Record<string, number>;
  searchParams: Record<string, number>;
}

export interface GateConfig {
  targetRecall: number;
  confidenceThreshold: number;
  fallback: string[]; // "widen", "exact", "collection"
  widenMaxRows: number;
  fallbackCollection: string;
  fallbackVectorField: string;
}

export interface CollectionInfo {
  name: string;
  dimension: number;
  embedder: string;
  index: IndexSpec;
  defaultOversample: number;
  description: string;
  rows: number; // live chunks
  floatRows: number; // rows in the float32 file, deleted ones included
  bytesInRam: number; // binary codes
  bytesOnDisk: number; // float32 file
  generation: number;
  createdUnixMs: number;
  gate: GateConfig;
  calibration: CalibrationInfo;
  consistencyLevel: string;
  partitionKey: string;
  numPartitions: number;
  tier: string; // middle tier in force: "sign", "sq2", "sq4"
  bytesTier: number; // middle-tier codes in RAM
  plan: SearchPlan; // measured at calibration
}

export interface SearchPlan {
  pool: number; // Hamming candidates per Milvus search for k = 10 (0 = not measured)
  nprobe: number; // IVF lists probed (0 = the index's default)
  route: string; // AUTO's first path: "binary" or "exact"
  candidateRecall: number;
  exactUs: number;
  binaryUs: number;
  scanUs: number;
  fallbackShare: number;
  rows: number;
}

export interface CreateCollectionOptions {
  dimension?: number; // 0 = the embedder's
  embedder?: string; // "" (server default), "local", "openai[:model]", "none"
  description?: string;
  defaultOversample?: number;
  index?: Partial<IndexSpec>;
  gate?: Partial<GateConfig>;
  consistencyLevel?: string;
  partitionKey?: string;
  numPartitions?: number;
  tier?: string; // "sign", "sq2", "sq4"; "" = the server's default (sq4)
}

export interface Document {
  id: string;
  text: string;
  metadata?: Metadata;
}

export interface IngestOptions {
  chunkSize?: number;
  chunkOverlap?: number;
  batchSize?: number; // documents (or vectors) per request
  flush?: boolean; // seal Milvus segments after the last request
  onProgress?: (done: number, total: number) => void;
}

export interface VectorIngestOptions extends IngestOptions {
  ids?: string[];
  documentIds?: string[];
  texts?: string[];
  metadata?: Metadata[];
}

export interface IngestResult {
  documentsAdded: number;
  documentsReplaced: number;
  documentsUnchanged: number;
  chunksWritten: number;
  chunksDeleted: number;
  generation: number;
  timingsUs: Record<string, number>;
}

export interface DeleteResult {
  documentsDeleted: number;
  chunksDeleted: number;
  generation: number;
  missing: string[]; // requested ids the collection did not hold
}

export interface SearchOptions {
  topK?: number; // default 10
  filter?: string; // e.g. `year >= 2020 and source in ["a.md"]`
  oversample?: number;
  mode?: SearchMode;
  confidenceThreshold?: number;
}

export interface Hit {
  chunkId: string;
  documentId: string;
  score: number;
  text: string;
  metadata: Metadata;
  hammingDistance: number;
}

export interface SearchDiagnostics {
  path: SearchPath;
  mode: SearchMode;
  candidatesExamined: number; // float32 rows scored
  oversample: number;
  timingsUs: Record<string, number>; // stage -> µs, in pipeline order
  totalUs: number;
  confidence: number;
  threshold: number;
  pools: number[]; // Hamming candidates received, per pool
  calibrated: boolean;
  milvusCalls: number; // Milvus searches this query made
  tier: string; // the middle tier that ranked the pool
  tierScored: number; // candidates the middle tier scored
}

export interface SearchResult {
  hits: Hit[];
  diagnostics: SearchDiagnostics;
}

export interface AskOptions extends SearchOptions {
  model?: string;
  temperature?: number;
  maxTokens?: number;
  cache?: boolean; // false = neither read nor write the answer cache
}

export interface Source {
  number: number; // [n] in the answer
  chunkId: string;
  documentId: string;
  score: number;
  snippet: string;
  metadata: Metadata;
}

export interface AskSummary {
  answer: string;
  sources: Source[];
  cited: number[];
  model: string; // "extractive" without an LLM
  generated: boolean;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  timings: { retrievalUs: number; firstTokenUs: number; totalUs: number; cacheUs: number };
  cache: CacheStatus;
  retrieval: SearchDiagnostics | null; // null on a cache hit
  error: { code: string; message: string; retryAfterS: number } | null;
}

/** One message of an answer stream: text to append, or (last) the summary. */
export type AnswerChunk = { text: string; summary?: undefined } | { text?: undefined; summary: AskSummary };

export interface CalibrationInfo {
  calibrated: boolean;
  threshold: number;
  targetRecall: number;
  samples: number;
  source: string;
  rowsAtCalibration: number;
  calibratedUnixMs: number;
  reliability: { lo: number; hi: number; count: number; predicted: number; measured: number }[];
  durationUs: number;
}
