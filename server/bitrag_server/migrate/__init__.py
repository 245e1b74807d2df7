"""Migration from an existing float32 RAG store (docs/migration.md), in the order a team runs it:

  sources.py     the legacy stores, one class each: Milvus (server or Lite file), Chroma, Qdrant,
                 a LlamaIndex persisted storage context, .npy + JSONL/Parquet files. Each streams
                 (ids, document ids, float32 vectors, text, metadata) from a resumable cursor,
                 fetches rows by id, and searches (shadow reads, the `collection` fallback).
  legacy_filter.py  bitrag's filter language -> each store's own filter
  policy.py      what a vector must be to be imported unchanged (dimension, norm, metric), and
                 the explanation when it is not
  checkpoint.py  the per-batch checkpoint that makes an import resumable after kill -9
  importer.py    `bitrag migrate SOURCE -c COLLECTION`: stream, check, ingest, checkpoint, verify
  verify.py      counts, a sample of vectors bit-identical to the source, metadata equal
  shadow.py      `bitrag migrate shadow`: the same queries against both, a report with a go/no-go
  live.py        in the server: live shadow reads (metrics) and the `collection` fallback
  cli.py         the `bitrag migrate ...` commands
"""
