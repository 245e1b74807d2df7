"""Ask latency through gRPC: uncached (retrieval + generation) versus cached (Redis hit), side by
side in one run.

The LLM is the loopback chat-completions server of the test suite (tests/llm_server.py) driven by
the real `groq` SDK inside the bitrag server, so "uncached" measures bitrag's own path (embed,
gated search, prompt, SDK, HTTP streaming, cache write) plus a provider that answers instantly
unless `--llm-first-token-ms` / `--llm-chunk-ms` simulate one. The collection is the first
`--docs` scifact documents (text, embedded by the local MiniLM); questions are scifact queries.

    python bench/ask.py --data ../shared/data/scifact --docs 1000 --questions 200

Writes bench/results/ask_latency.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bitrag import Client, Document  # noqa: E402
from bitrag_server.launch import ServerProcess  # noqa: E402
from llm_server import LLMServer, Reply  # noqa: E402

ANSWER = (
    "Binary codes select the candidates and the float32 rows rescore them, so the ranking matches "
    "an exact search [1]. The sources report this for the studied cohort [2], although the effect "
    "size differs between studies [3]."
)


def pct(xs: list[float], p: float) -> float:
    return round(float(np.percentile(xs, p)), 2)


def run_pass(c: Client, questions: list[str], expect: str) -> dict:
    total, first, server_total, retrieval = [], [], [], []
    for q in questions:
        t0 = time.perf_counter()
        t_first = None
        summary = None
        for chunk in c.ask("scifact", q, top_k=5):
            if chunk.summary is None and t_first is None:
                t_first = time.perf_counter()
            if chunk.summary is not None:
                summary = chunk.summary
        t_end = time.perf_counter()
        assert summary is not None and summary.cache == expect, (summary and summary.cache, expect)
        total.append((t_end - t0) * 1000)
        first.append(((t_first or t_end) - t0) * 1000)
        server_total.append(summary.timings.total_us / 1000)
        retrieval.append(summary.timings.retrieval_us / 1000)
    return {
        "cache": expect,
        "asks": len(questions),
        "p50_ms": pct(total, 50), "p95_ms": pct(total, 95), "mean_ms": round(statistics.fmean(total), 2),
        "first_chunk_p50_ms": pct(first, 50),
        "server_total_p50_ms": pct(server_total, 50),
        "retrieval_p50_ms": pct(retrieval, 50),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    ap.add_argument("--docs", type=int, default=1000, help="scifact documents ingested")
    ap.add_argument("--questions", type=int, default=200, help="distinct questions asked (twice each)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--llm-first-token-ms", type=float, default=0.0, help="simulated provider delay before the answer")
    ap.add_argument("--llm-chunk-ms", type=float, default=0.0, help="simulated delay between streamed chunks")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)

    docs = []
    with open(args.data / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            docs.append(Document(d["_id"], f"{d.get('title', '')}\n{d['text']}".strip()))
            if len(docs) >= args.docs:
                break
    with open(args.data / "queries.jsonl") as f:
        questions = [json.loads(line)["text"] for line in f][: args.questions]

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    result: dict = {
        "docs": len(docs), "questions": len(questions), "llm": "loopback (tests/llm_server.py) via the groq SDK",
        "llm_first_token_ms": args.llm_first_token_ms, "llm_chunk_ms": args.llm_chunk_ms,
        "answer_chars": len(ANSWER), "machine": f"{platform.machine()}, {platform.python_version()}",
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip(),
    }
    with LLMServer() as llm, tempfile.TemporaryDirectory() as tmp:
        llm.api_key = "bench-key"
        llm.default_text = ANSWER

        def reply() -> Reply:
            r = Reply.text(ANSWER, chunk_chars=16, delay_s=args.llm_chunk_ms / 1000)
            if args.llm_first_token_ms:
                return Reply.hang(args.llm_first_token_ms / 1000, then=r)
            return r

        env = {
            "BITRAG_LLM_API_KEY": "bench-key", "BITRAG_LLM_BASE_URL": llm.base_url,
            "BITRAG_REDIS_URL": args.redis_url, "BITRAG_REDIS_PREFIX": prefix,
            "BITRAG_CALIBRATION_QUERY_RATE": "0",
        }
        with ServerProcess(Path(tmp) / "data", env=env) as srv, Client(srv.target, timeout=600) as c:
            c.create_collection("scifact")
            t = time.perf_counter()
            c.ingest_documents("scifact", docs)
            result["ingest_s"] = round(time.perf_counter() - t, 1)
            c.calibrate("scifact")
            for q in ("warm-up one", "warm-up two"):  # load paths, connections
                llm.script(reply())
                list(c.ask("scifact", q))
            llm.script(*[reply() for _ in questions])
            result["uncached"] = run_pass(c, questions, "MISS")
            result["cached"] = run_pass(c, questions, "HIT")
            result["llm_requests"] = len(llm.chat_requests)
            result["server_exit_code"] = srv.stop()
        try:  # drop this run's keys
            import redis

            r = redis.Redis.from_url(args.redis_url)
            for k in r.scan_iter(f"{prefix}:*"):
                r.delete(k)
        except Exception:  # noqa: BLE001 - best effort
            pass

    u, h = result["uncached"], result["cached"]
    result["speedup_p50"] = round(u["p50_ms"] / h["p50_ms"], 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ask_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Ask latency through gRPC: uncached vs cached",
        "",
        f"`python bench/ask.py --docs {args.docs} --questions {args.questions}"
        + (f" --llm-first-token-ms {args.llm_first_token_ms:g}" if args.llm_first_token_ms else "")
        + (f" --llm-chunk-ms {args.llm_chunk_ms:g}" if args.llm_chunk_ms else "")
        + f"` at {result['commit']}: {len(docs)} scifact documents (local MiniLM), {len(questions)} "
        "distinct questions asked twice, client-side wall time per Ask call (all chunks received).",
        f"LLM: {result['llm']}, first token delay {args.llm_first_token_ms:g} ms, "
        f"{args.llm_chunk_ms:g} ms between chunks; answer {len(ANSWER)} characters.",
        "",
        "| pass | cache | p50 ms | p95 ms | first chunk p50 ms | server p50 ms | retrieval p50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in (("first (uncached)", u), ("second (cached)", h)):
        md.append(f"| {name} | {r['cache']} | {r['p50_ms']} | {r['p95_ms']} | {r['first_chunk_p50_ms']} | "
                  f"{r['server_total_p50_ms']} | {r['retrieval_p50_ms']} |")
    md += ["", f"p50 uncached / cached = {result['speedup_p50']}x; LLM requests: {result['llm_requests']} "
           f"(warm-up 2 + {len(questions)} uncached; the cached pass made none)."]
    (args.out / "ask_latency.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
