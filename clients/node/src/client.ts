// The bitrag client: loads the proto at run time (@grpc/proto-loader), typed by the generated
// definitions in ./gen, and speaks in the plain types of ./types. Every method rejects with a
// BitragError subclass (errors.ts).

import * as fs from "node:fs";
import * as path from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import * as convert from "./convert";
import { BitragError, fromServiceError, PROTO_DIR } from "./errors";
import type { ProtoGrpcType as BitragProto } from "./gen/bitrag";
import type { BitragServiceClient } from "./gen/bitrag/v1/BitragService";
import type { ProtoGrpcType as HealthProto } from "./gen/health";
import type { HealthClient } from "./gen/grpc/health/v1/Health";
import type { CalibrateRequest } from "./gen/bitrag/v1/CalibrateRequest";
import type { CalibrationInfo__Output } from "./gen/bitrag/v1/CalibrationInfo";
import type { CreateCollectionRequest } from "./gen/bitrag/v1/CreateCollectionRequest";
import type { DeleteRequest } from "./gen/bitrag/v1/DeleteRequest";
import type { DescribeCollectionRequest } from "./gen/bitrag/v1/DescribeCollectionRequest";
import type { DropCollectionRequest } from "./gen/bitrag/v1/DropCollectionRequest";
import type { ListCollectionsRequest } from "./gen/bitrag/v1/ListCollectionsRequest";
import type { SearchRequest } from "./gen/bitrag/v1/SearchRequest";
import type { HealthCheckRequest } from "./gen/grpc/health/v1/HealthCheckRequest";
import type { CollectionInfo__Output } from "./gen/bitrag/v1/CollectionInfo";
import type { DeleteResponse__Output } from "./gen/bitrag/v1/DeleteResponse";
import type { IngestRequest } from "./gen/bitrag/v1/IngestRequest";
import type { IngestResponse__Output } from "./gen/bitrag/v1/IngestResponse";
import type { ListCollectionsResponse__Output } from "./gen/bitrag/v1/ListCollectionsResponse";
import type { SearchMode as WireMode } from "./gen/bitrag/v1/SearchMode";
import type { SearchResponse__Output } from "./gen/bitrag/v1/SearchResponse";
import type { HealthCheckResponse__Output } from "./gen/grpc/health/v1/HealthCheckResponse";
import type * as t from "./types";

export const DEFAULT_TARGET = "127.0.0.1:50051";

/** TLS to the server. PEM contents (`ca`, `cert`, `key`) or files (`caFile`, ...). */
export interface TlsOptions {
  ca?: Buffer | string;
  caFile?: string;
  cert?: Buffer | string; // mTLS client certificate
  certFile?: string;
  key?: Buffer | string;
  keyFile?: string;
  serverName?: string; // overrides the name checked against the certificate
}

export interface ClientOptions {
  /** Deadline per call in ms (default 60 s); an Ask stream gets it for the whole answer. */
  timeoutMs?: number;
  /** true = TLS with the system's roots; an object = TLS with a CA / client certificate. */
  tls?: boolean | TlsOptions;
  /** Sent as `authorization: Bearer <token>` on every call. Use it with TLS beyond loopback. */
  token?: string;
  maxMessageMb?: number; // default 64
  channelOptions?: grpc.ChannelOptions;
}

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR],
};

let loaded: { bitrag: BitragProto; health: HealthProto } | null = null;

function protos(): { bitrag: BitragProto; health: HealthProto } {
  if (loaded === null) {
    const def = protoLoader.loadSync(["bitrag/v1/bitrag.proto", "grpc/health/v1/health.proto"], LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(def);
    loaded = { bitrag: pkg as unknown as BitragProto, health: pkg as unknown as HealthProto };
  }
  return loaded;
}

function pem(value: Buffer | string | undefined, file: string | undefined): Buffer | null {
  if (value !== undefined) return Buffer.isBuffer(value) ? value : Buffer.from(value);
  return file !== undefined ? fs.readFileSync(path.resolve(file)) : null;
}

function credentials(tls: ClientOptions["tls"]): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const o: TlsOptions = tls === true ? {} : tls;
  return grpc.credentials.createSsl(pem(o.ca, o.caFile), pem(o.key, o.keyFile), pem(o.cert, o.certFile));
}

const MODE: Record<t.SearchMode, WireMode> = {
  AUTO: "SEARCH_MODE_AUTO", RESCORED: "SEARCH_MODE_RESCORED", BINARY_ONLY: "SEARCH_MODE_BINARY_ONLY",
  EXACT: "SEARCH_MODE_EXACT",
};

function mode(m: t.SearchMode | undefined): WireMode {
  const v = MODE[m ?? "AUTO"];
  if (v === undefined) throw new TypeError(`mode: ${String(m)} is not one of ${Object.keys(MODE).join(", ")}`);
  return v;
}

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions,
                        cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;

/** A bitrag server. `new BitragClient("127.0.0.1:50051")`; `close()` when done. */
export class BitragClient {
  readonly target: string;
  private readonly stub: BitragServiceClient;
  private readonly healthStub: HealthClient;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;

  constructor(target: string = DEFAULT_TARGET, options: ClientOptions = {}) {
    this.target = target;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.token = options.token;
    const max = (options.maxMessageMb ?? 64) * 1024 * 1024;
    const channelOptions: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": max, "grpc.max_send_message_length": max,
      ...(typeof options.tls === "object" && options.tls.serverName
        ? { "grpc.ssl_target_name_override": options.tls.serverName } : {}),
      ...options.channelOptions,
    };
    const creds = credentials(options.tls);
    const { bitrag, health } = protos();
    this.stub = new bitrag.bitrag.v1.BitragService(target, creds, channelOptions);
    // the health stub shares the channel of the service stub
    this.healthStub = new health.grpc.health.v1.Health(target, creds, {
      ...channelOptions, channelOverride: this.stub.getChannel(),
    });
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set("authorization", `Bearer ${this.token}`);
    return md;
  }

  private options(): grpc.CallOptions {
    return { deadline: Date.now() + this.timeoutMs };
  }

  // `method` is one of the stub's overloaded methods; Res names its response type.
  private unary<Req, Res>(method: unknown, req: Req, self: object = this.stub): Promise<Res> {
    return new Promise((resolve, reject) => {
      (method as Unary<Req, Res>).call(self, req, this.metadata(), this.options(), (err, res) => {
        if (err) reject(fromServiceError(err));
        else resolve(res as Res);
      });
    });
  }

  // ---- health ------------------------------------------------------------------------------------

  /** The standard grpc.health.v1 check ("" = the server, or "bitrag.v1.BitragService"). */
  async health(service = ""): Promise<t.HealthStatus> {
    const res = await this.unary<HealthCheckRequest, HealthCheckResponse__Output>(this.healthStub.Check, { service }, this.healthStub);
    return res.status as t.HealthStatus;
  }

  // ---- collections -------------------------------------------------------------------------------

  async createCollection(name: string, opts: t.CreateCollectionOptions = {}): Promise<t.CollectionInfo> {
    const res = await this.unary<CreateCollectionRequest, CollectionInfo__Output>(this.stub.CreateCollection, {
      name, dimension: opts.dimension, embedder: opts.embedder, description: opts.description,
      default_oversample: opts.defaultOversample,
      index: opts.index ? {
        type: opts.index.type, build_params: opts.index.buildParams, search_params: opts.index.searchParams,
      } : undefined,
      gate: convert.gateToWire(opts.gate), consistency_level: opts.consistencyLevel,
      partition_key: opts.partitionKey, num_partitions: opts.numPartitions, tier: opts.tier,
    });
    return convert.collectionFromWire(res);
  }

  async listCollections(): Promise<t.CollectionInfo[]> {
    const res = await this.unary<ListCollectionsRequest, ListCollectionsResponse__Output>(this.stub.ListCollections, {});
    return res.collections.map(convert.collectionFromWire);
  }

  async describeCollection(name: string): Promise<t.CollectionInfo> {
    return convert.collectionFromWire(await this.unary<DescribeCollectionRequest, CollectionInfo__Output>(this.stub.DescribeCollection, { name }));
  }

  async dropCollection(name: string): Promise<void> {
    await this.unary<DropCollectionRequest, object>(this.stub.DropCollection, { name });
  }

  // ---- data --------------------------------------------------------------------------------------

  private async ingestBatches(reqs: IngestRequest[], counts: number[], opts: t.IngestOptions): Promise<t.IngestResult> {
    const total = convert.emptyIngest();
    const all = counts.reduce((a, b) => a + b, 0);
    let done = 0;
    for (let i = 0; i < reqs.length; i++) {
      const req = i === reqs.length - 1 && opts.flush ? { ...reqs[i], flush: true } : reqs[i];
      convert.addIngest(total, await this.unary<IngestRequest, IngestResponse__Output>(this.stub.Ingest, req));
      done += counts[i];
      opts.onProgress?.(done, all);
    }
    return total;
  }

  /** Documents for the server to split, embed and store; unchanged ones are skipped. */
  async ingestDocuments(collection: string, documents: t.Document[], opts: t.IngestOptions = {}): Promise<t.IngestResult> {
    const size = opts.batchSize ?? 32;
    const reqs: IngestRequest[] = [];
    const counts: number[] = [];
    for (let i = 0; i < documents.length; i += size) {
      const batch = documents.slice(i, i + size);
      reqs.push({
        collection, chunk_size: opts.chunkSize, chunk_overlap: opts.chunkOverlap,
        documents: batch.map((d) => ({ id: d.id, text: d.text, metadata: convert.objectToStruct(d.metadata) })),
      });
      counts.push(batch.length);
    }
    return this.ingestBatches(reqs, counts, opts);
  }

  /** Pre-computed float32 vectors, one chunk each, with optional ids, texts and metadata. */
  async ingestVectors(collection: string, vectors: t.Vector[], opts: t.VectorIngestOptions = {}): Promise<t.IngestResult> {
    const size = opts.batchSize ?? 2048;
    const reqs: IngestRequest[] = [];
    const counts: number[] = [];
    for (const [name, list] of Object.entries({ ids: opts.ids, documentIds: opts.documentIds, texts: opts.texts,
                                                metadata: opts.metadata })) {
      if (list !== undefined && list.length !== vectors.length) {
        throw new TypeError(`${name}: ${list.length} entries for ${vectors.length} vectors`);
      }
    }
    for (let i = 0; i < vectors.length; i += size) {
      const records = [];
      for (let j = i; j < Math.min(i + size, vectors.length); j++) {
        records.push({
          id: opts.ids?.[j] ?? "", document_id: opts.documentIds?.[j] ?? "", vector: convert.vectorBytes(vectors[j]),
          text: opts.texts?.[j] ?? "", metadata: convert.objectToStruct(opts.metadata?.[j]),
        });
      }
      reqs.push({ collection, records });
      counts.push(records.length);
    }
    return this.ingestBatches(reqs, counts, opts);
  }

  /** Deletes every chunk of each document. */
  async deleteDocuments(collection: string, documentIds: string[]): Promise<t.DeleteResult> {
    const r = await this.unary<DeleteRequest, DeleteResponse__Output>(this.stub.Delete, { collection, document_ids: documentIds });
    return {
      documentsDeleted: r.documents_deleted, chunksDeleted: r.chunks_deleted, generation: r.generation,
      missing: r.missing ?? [],
    };
  }

  // ---- retrieval ---------------------------------------------------------------------------------

  /** Search by text (embedded by the collection's embedder) or by a float32 vector. */
  async search(collection: string, query: string | t.Vector, opts: t.SearchOptions = {}): Promise<t.SearchResult> {
    const res = await this.unary<SearchRequest, SearchResponse__Output>(this.stub.Search, {
      collection, ...(typeof query === "string" ? { text: query } : { vector: convert.vectorBytes(query) }),
      top_k: opts.topK ?? 10, filter: opts.filter, oversample: opts.oversample, mode: mode(opts.mode),
      confidence_threshold: opts.confidenceThreshold,
    });
    return convert.searchFromWire(res);
  }

  /** Fits the collection's confidence gate now. */
  async calibrate(collection: string, samples = 0): Promise<t.CalibrationInfo> {
    return convert.calibrationFromWire(await this.unary<CalibrateRequest, CalibrationInfo__Output>(this.stub.Calibrate, { collection, samples }));
  }

  /**
   * Ask: retrieval, then an answer citing the sources as [n], streamed. Yields `{text}` pieces, then
   * one `{summary}`. If generation fails after retrieval the summary (with the sources and
   * `summary.error`) is still yielded, then the iteration throws the matching BitragError.
   * Breaking out of the loop cancels the call.
   */
  async *ask(collection: string, question: string, opts: t.AskOptions = {}): AsyncGenerator<t.AnswerChunk> {
    const call = this.stub.Ask({
      collection, question, top_k: opts.topK, filter: opts.filter, oversample: opts.oversample,
      mode: mode(opts.mode), confidence_threshold: opts.confidenceThreshold, model: opts.model,
      temperature: opts.temperature, max_tokens: opts.maxTokens, no_cache: opts.cache === false,
    }, this.metadata(), this.options());
    let finished = false;
    try {
      for await (const msg of call) {
        if (msg.event === "summary" && msg.summary) yield { summary: convert.summaryFromWire(msg.summary) };
        else yield { text: msg.delta ?? "" };
      }
      finished = true;
    } catch (err) {
      finished = true;
      throw fromServiceError(err);
    } finally {
      if (!finished) call.cancel();
    }
  }

  close(): void {
    this.stub.close();
  }
}

export { BitragError };
