"""Chunks against the local embedder's window: what all-MiniLM-L6-v2 reads of the server's chunks,
and what that does to retrieval, on SciFact (its documents as text, its test queries and qrels).

    python bench/chunk_window.py                 # all 5,183 documents
    python bench/chunk_window.py --docs 1000

The model reads 256 wordpieces ([CLS], 254 of text, [SEP]) and silently drops the rest. Per
chunking (the server's splitter, `ingest.split_document`):
  - old default: 512 tiktoken tokens, 64 overlap (what the server used with every embedder);
  - new default: the server's resolution for the local model (`ingest_pipeline.resolve_chunking`
    with `LocalEmbedder.window()`: 254 of its own wordpieces, 64 overlap);
measured: chunks, wordpieces per chunk, chunks longer than the window, the share of the text's
wordpieces never embedded, split and embed time (one run, this machine), and retrieval: every
chunk embedded by the model, each test query's exact top chunks by cosine, a document scored by
its best chunk: nDCG@10 and recall@10 (documents) against the qrels; and text past the window
found: each document longer than the window (first 500) queried by its last sentence, the share
found in the top 10 documents.

Writes bench/results/chunk_window.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "client"), str(ROOT / "server")]

from bitrag_server import ingest_pipeline as ip  # noqa: E402
from bitrag_server.bench.common import environment, write_json  # noqa: E402
from bitrag_server.config import Settings  # noqa: E402
from bitrag_server.domain import DocumentIn  # noqa: E402
from bitrag_server.embed import LocalEmbedder  # noqa: E402
from bitrag_server.ingest import split_document  # noqa: E402

K = 10


def load(data: Path, n_docs: int) -> tuple[list[DocumentIn], dict[str, str], dict[str, dict[str, int]]]:
    docs = []
    with open(data / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            docs.append(DocumentIn(str(d["_id"]), f"{d.get('title', '')}\n\n{d['text']}"))
            if n_docs and len(docs) >= n_docs:
                break
    have = {d.id for d in docs}
    qrels: dict[str, dict[str, int]] = {}
    with open(data / "qrels" / "test.tsv") as f:
        next(f)
        for line in f:
            q, c, s = line.rstrip("\n").split("\t")
            if c in have and int(s) > 0:
                qrels.setdefault(q, {})[c] = int(s)
    queries = {}
    with open(data / "queries.jsonl") as f:
        for line in f:
            d = json.loads(line)
            if str(d["_id"]) in qrels:
                queries[str(d["_id"])] = d["text"]
    return docs, queries, qrels


def ndcg_recall(ranked: list[str], rel: dict[str, int]) -> tuple[float, float]:
    dcg = sum(rel.get(d, 0) / np.log2(i + 2) for i, d in enumerate(ranked[:K]))
    ideal = sum(r / np.log2(i + 2) for i, r in enumerate(sorted(rel.values(), reverse=True)[:K]))
    return dcg / ideal, len(set(ranked[:K]) & set(rel)) / len(rel)


def run(name: str, size: int, overlap: int, tokenizer, docs, queries, qrels, model: LocalEmbedder,  # noqa: ANN001
        qv: np.ndarray) -> dict:
    tok = model._load().tokenizer
    t = time.perf_counter()
    chunks = [c for d in docs for c in split_document(d, size, overlap, tokenizer)]
    split_s = time.perf_counter() - t
    texts = [c.text for c in chunks]
    wp = np.array([len(ids) for ids in tok(texts, add_special_tokens=False, verbose=False)["input_ids"]])
    window = model.window()[0]
    t = time.perf_counter()
    vecs = model.embed(texts)
    embed_s = time.perf_counter() - t
    doc_of = np.array([c.doc_id for c in chunks])
    scores = qv @ vecs.T  # [Q, chunks]
    nd, rc = [], []
    for i, qid in enumerate(queries):
        order = np.argsort(-scores[i], kind="stable")
        ranked: list[str] = []
        for j in order:
            if doc_of[j] not in ranked:
                ranked.append(str(doc_of[j]))
                if len(ranked) == K:
                    break
        a, b = ndcg_recall(ranked, qrels[qid])
        nd.append(a)
        rc.append(b)
    # text past the window: each long document's last sentence as the query; is the document found?
    tails = tail_queries(docs, tok, window)
    found = []
    if tails:
        tv = model.embed([t for _, t in tails])
        ts = tv @ vecs.T
        for i, (doc_id, _) in enumerate(tails):
            best: dict[str, float] = {}
            for j in np.argsort(-ts[i], kind="stable")[: 20 * K]:
                best.setdefault(str(doc_of[j]), float(ts[i, j]))
            found.append(doc_id in list(best)[:K])
    return {
        "chunking": name, "chunk_size": size, "overlap": overlap,
        "tokens": "the model's wordpieces" if tokenizer is not None else "tiktoken",
        "chunks": len(chunks), "wordpieces_p50": int(np.median(wp)), "wordpieces_max": int(wp.max()),
        "over_window": round(float((wp > window).mean()), 4),
        "unembedded_share": round(float(np.clip(wp - window, 0, None).sum() / wp.sum()), 4),
        "split_s": round(split_s, 2), "embed_s": round(embed_s, 1),
        "ndcg@10": round(float(np.mean(nd)), 4), "recall@10": round(float(np.mean(rc)), 4),
        "tail_queries": len(tails), "tail_found@10": round(float(np.mean(found)), 4) if found else None,
    }


def tail_queries(docs: list[DocumentIn], tok, window: int, limit: int = 500) -> list[tuple[str, str]]:  # noqa: ANN001
    """(document id, its last sentence of 8+ words) for documents longer than the window (the
    first `limit`): text the model never read under a chunking that cuts at the window."""
    out = []
    for d in docs:
        if len(tok(d.text, add_special_tokens=False, verbose=False)["input_ids"]) <= window + 32:
            continue
        sents = [x.strip() for x in d.text.replace("\n", " ").split(". ") if len(x.split()) >= 8]
        if sents:
            out.append((d.id, sents[-1]))
        if len(out) >= limit:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    ap.add_argument("--docs", type=int, default=0, help="first N documents (0 = all)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    docs, queries, qrels = load(a.data, a.docs)
    model = LocalEmbedder()
    qv = model.embed(list(queries.values()))
    settings = Settings(data_dir=a.out, _env_file=None)
    new = ip.resolve_chunking(0, 0, settings, model.window(), model.spec)
    rows = [
        run("old default", 512, 64, None, docs, queries, qrels, model, qv),
        run("new default", new.size, new.overlap, new.tokenizer, docs, queries, qrels, model, qv),
    ]
    result = {"documents": len(docs), "queries": len(queries), "model": model.spec, "window": model.window()[0],
              "rows": rows, "environment": environment()}
    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "chunk_window.json", result)
    cols = ["chunking", "chunk_size", "tokens", "chunks", "wordpieces_p50", "wordpieces_max", "over_window",
            "unembedded_share", "split_s", "embed_s", "ndcg@10", "recall@10", "tail_queries", "tail_found@10"]
    md = [
        f"# Chunks against the local embedder's window ({model.spec} reads {result['window']} wordpieces of text)",
        "",
        f"Command: `python bench/chunk_window.py{f' --docs {a.docs}' if a.docs else ''}`. SciFact: {len(docs):,} "
        f"documents (title + abstract as text), {len(queries)} test queries with qrels; every chunk embedded by "
        "the model, exact cosine top chunks per query, a document scored by its best chunk.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    md += ["| " + " | ".join(f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols) + " |" for r in rows]
    (a.out / "chunk_window.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
