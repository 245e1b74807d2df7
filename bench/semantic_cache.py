"""The semantic answer cache (optional, off by default): how often a near-duplicate question finds
the cached answer, how often a *different* question would wrongly get one, and what the lookup
costs, as a function of the Hamming threshold.

Questions are the scifact queries. Near-duplicates are made from each by edits a user makes when
asking again (case, punctuation, a dropped or added filler word, two adjacent words swapped, a
typo). A false hit is a different scifact question whose code is within the threshold of some
cached question. Codes are the server's: the local MiniLM embedder (384 dims) -> sign bits.

The lookup cost is measured against the real Redis with the server's own AnswerCache.nearest()
(HGETALL of one scope's codes + a numpy Hamming scan) at 100 / 1000 / 5000 cached questions.

    python bench/semantic_cache.py --data ../shared/data/scifact

Writes bench/results/semantic_cache.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from bitrag_server.answer.cache import AnswerCache
from bitrag_server.config import Settings
from bitrag_server.embed import LocalEmbedder
from bitrag_server.quantize import binarize

ROOT = Path(__file__).resolve().parents[1]
FILLERS = ("please", "actually", "exactly", "really")
THRESHOLDS = (4, 8, 12, 16, 24, 32, 48)


def near_duplicates(q: str, rng: random.Random) -> dict[str, str]:
    words = q.rstrip(".?!").split()
    out = {"case+punct": q.lower().rstrip(".") + "?"}
    if len(words) > 3:
        i = rng.randrange(len(words) - 1)
        sw = words[:i] + [words[i + 1], words[i]] + words[i + 2:]
        out["swap"] = " ".join(sw)
        j = rng.randrange(len(words))
        out["drop_word"] = " ".join(words[:j] + words[j + 1:])
    out["add_filler"] = f"{rng.choice(FILLERS)} " + " ".join(words)
    long_words = [k for k, w in enumerate(words) if len(w) > 4]
    if long_words:
        k = rng.choice(long_words)
        w = words[k]
        p = rng.randrange(1, len(w) - 1)
        out["typo"] = " ".join(words[:k] + [w[:p] + w[p + 1] + w[p] + w[p + 2:]] + words[k + 1:])
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[n, B] x [m, B] packed codes -> [n, m] Hamming distances."""
    return np.unpackbits(a[:, None, :] ^ b[None, :, :], axis=-1).sum(-1)


async def lookup_cost(codes: np.ndarray, redis_url: str) -> dict[str, float]:
    settings = Settings(redis_url=redis_url, redis_prefix=f"bench-{uuid.uuid4().hex[:8]}", semantic_cache=True)
    cache = AnswerCache(settings)
    out: dict[str, float] = {}
    try:
        for n in (100, 1000, 5000):
            scope = cache.scope(n=n)
            for i in range(n):
                code = codes[i % len(codes)]
                key = cache.key("bench", scope, f"question {i}")
                await cache.put(key, {"answer": "a", "sources": [], "cited": [], "model": "m", "generated": True,
                                      "usage": {}}, collection="bench", scope=scope, code=code)
            times = []
            for i in range(200):
                t = time.perf_counter()
                await cache.nearest("bench", scope, codes[(i * 7) % len(codes)], 24)
                times.append((time.perf_counter() - t) * 1000)
            out[str(n)] = round(float(np.percentile(times, 50)), 3)
        assert cache._redis is not None
        async for k in cache._redis.scan_iter(f"{settings.redis_prefix}:*"):
            await cache._redis.delete(k)
    finally:
        await cache.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    ap.add_argument("--questions", type=int, default=1109, help="scifact queries used (all: 1109)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    with open(args.data / "queries.jsonl") as f:
        questions = list(dict.fromkeys(json.loads(line)["text"] for line in f))[: args.questions]
    variants: list[tuple[int, str, str]] = []
    for i, q in enumerate(questions):
        for kind, text in near_duplicates(q, rng).items():
            variants.append((i, kind, text))

    emb = LocalEmbedder()
    t = time.perf_counter()
    qcodes = binarize(emb.embed(questions))
    vcodes = binarize(emb.embed([v[2] for v in variants]))
    print(f"embedded {len(questions)} questions + {len(variants)} variants in {time.perf_counter() - t:.0f} s",
          file=sys.stderr)
    bits = qcodes.shape[1] * 8

    # near-duplicate -> its own question
    own = np.array([int(np.unpackbits(vcodes[j] ^ qcodes[i]).sum()) for j, (i, _, _) in enumerate(variants)])
    # different question -> the closest other cached question
    d = hamming(qcodes, qcodes)
    np.fill_diagonal(d, bits + 1)
    other = d.min(axis=1)
    kinds = sorted({k for _, k, _ in variants})

    rows = []
    for th in THRESHOLDS:
        rows.append({
            "max_bits": th,
            "near_duplicate_hit_rate": round(float((own <= th).mean()), 4),
            "by_edit": {k: round(float((own[[v[1] == k for v in variants]] <= th).mean()), 4) for k in kinds},
            "false_hit_rate": round(float((other <= th).mean()), 4),
        })
    cost = asyncio.run(lookup_cost(qcodes, args.redis_url))
    result = {
        "questions": len(questions), "variants": len(variants), "code_bits": bits,
        "default_max_bits": bits // 48,
        "near_duplicate_bits_p50_p90": [int(np.percentile(own, 50)), int(np.percentile(own, 90))],
        "other_question_min_bits_p1_p50": [int(np.percentile(other, 1)), int(np.percentile(other, 50))],
        "thresholds": rows, "lookup_p50_ms_by_cached_questions": cost,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "semantic_cache.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Semantic answer cache: near-duplicate hits vs false hits",
        "",
        f"`python bench/semantic_cache.py`: {len(questions)} scifact questions, {len(variants)} near-duplicate "
        f"variants ({', '.join(kinds)}), MiniLM codes of {bits} bits.",
        f"Hamming distance of a near-duplicate to its question: p50 {result['near_duplicate_bits_p50_p90'][0]}, "
        f"p90 {result['near_duplicate_bits_p50_p90'][1]} bits; of a question to the closest *other* question: "
        f"p1 {result['other_question_min_bits_p1_p50'][0]}, p50 {result['other_question_min_bits_p1_p50'][1]} bits.",
        "",
        "| max bits | near-duplicate hit rate | " + " | ".join(kinds) + " | false hit rate (other question) |",
        "|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for r in rows:
        mark = " (default)" if r["max_bits"] == bits // 48 else ""
        md.append(f"| {r['max_bits']}{mark} | {r['near_duplicate_hit_rate']:.3f} | "
                  + " | ".join(f"{r['by_edit'][k]:.3f}" for k in kinds) + f" | {r['false_hit_rate']:.4f} |")
    md += ["", "Lookup cost (AnswerCache.nearest against the real Redis, p50 ms): "
           + ", ".join(f"{n} cached questions {ms} ms" for n, ms in cost.items()) + "."]
    (args.out / "semantic_cache.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
