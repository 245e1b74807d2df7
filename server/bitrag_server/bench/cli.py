"""`bitrag bench ...`: quality, scale, synth, gate, plots. Registered on the `bitrag` CLI by
`add_bench_parser`; heavy imports happen when a command runs, so `bitrag --help` stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import DEFAULT_DATA, DEFAULT_RESULTS, REPO

DEFAULT_WORK = REPO / "bench" / ".work"


def parse_n(text: str) -> int:
    """100000, 100k, 1M, 10M, 1e6 -> int."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    mult = {"k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}.get(t[-1:], 1)
    if mult > 1:
        t = t[:-1]
    try:
        v = float(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r}") from None
    if v < 1 or v != int(v):
        raise argparse.ArgumentTypeError(f"not a row count: {text!r}")
    return int(v)


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="benchmarks: retrieval quality, latency/memory at scale (reports in bench/results/)",
        description="Benchmarks of the real service over gRPC. Reports (markdown + JSON + PNG) go to bench/results/.",
    )
    bs = p.add_subparsers(dest="bench_command", metavar="{quality,scale,synth,corpus,gate,plots}", required=True)

    q = bs.add_parser("quality", help="quality per mode on a BEIR directory with precomputed embeddings",
                      description="Ingest emb/NAME/corpus.npy through gRPC, query with emb/NAME/queries.npy; per mode: "
                      "NDCG@10 (with qrels), recall@1/@10/@100 vs exact float32, retention, fallback rate, p50 latency.")
    q.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR directory (default %(default)s)")
    q.add_argument("--embeddings", default="minilm-l6-384", help="emb/NAME under --data (default %(default)s)")
    q.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    q.add_argument("--backend", choices=["lite", "standalone"], default="lite",
                   help="Milvus Lite (default) or a Milvus standalone started for the run (PyPI `milvus`)")
    q.add_argument("--milvus-uri", default="", help="use this Milvus server instead (http://HOST:PORT)")
    q.add_argument("--nlist", type=int, default=128, help="BIN_IVF_FLAT nlist on a Milvus server (default %(default)s)")
    q.add_argument("--nprobe", type=int, default=128, help="BIN_IVF_FLAT nprobe on a Milvus server (default %(default)s)")
    q.add_argument("--hamming-pool-factor", type=int, default=0,
                   help="server's Hamming pool per rescored row (default: the server's, 4; 1 = no asymmetric stage)")
    q.add_argument("--tier", choices=["", "sign", "sq2", "sq4"], default="",
                   help="middle tier of the collection (default: the server's, sq4)")
    q.add_argument("--oversamples", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    q.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="report directory (default %(default)s)")
    q.add_argument("--name", default="", help="report file stem (default quality_<dataset>_<embeddings>_<backend>)")
    q.add_argument("--no-plots", dest="plots", action="store_false")
    q.add_argument("--progress", action="store_true", help="progress bars per mode")
    q.set_defaults(func=cmd_quality)

    s = bs.add_parser("scale", help="latency, throughput, memory, recall at N rows, with the baselines",
                      description="Synthetic vectors (fitted to real embeddings) at each N, bitrag over gRPC and the "
                      "baselines (numpy brute force, float32 Milvus, Hamming only, ST-style rescoring) in one run.")
    s.add_argument("--n", type=parse_n, nargs="+", required=True, help="rows: one N or a list (100k 1M 10M)")
    s.add_argument("--backend", choices=["lite", "standalone"], default="lite",
                   help="Milvus Lite (child of the server) or a Milvus standalone started here (default %(default)s)")
    s.add_argument("--milvus-uri", default="", help="an external Milvus server instead")
    s.add_argument("--queries", type=int, default=500, help="query vectors (recall and latency; default %(default)s)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--work-dir", type=Path, default=DEFAULT_WORK,
                   help="cached vectors, ground truth, server data (default %(default)s; ~2x N*d*4 bytes of disk)")
    s.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    s.add_argument("--name", default="", help="report stem (default scale_<backend>); runs merge into it by N")
    s.add_argument("--fit-data", type=Path, default=DEFAULT_DATA, help="BEIR directory the generator is fitted to")
    s.add_argument("--fit-embeddings", default="mpnet-base-768", help="its emb/NAME (sets the dimension)")
    s.add_argument("--rank", type=int, default=256, help="low-rank part of the fitted covariance")
    s.add_argument("--real-data", type=Path, default=None,
                   help="a BEIR directory of real vectors instead of the generator (e.g. bench/.work/debian-docs); "
                   "N is capped at its corpus size")
    s.add_argument("--real-embeddings", default="minilm-l6-384", help="its emb/NAME")
    s.add_argument("--nlist", type=int, default=0, help="BIN_IVF_FLAT nlist per Milvus segment (0 = 4 sqrt(min(N, 140000 rows per segment)))")
    s.add_argument("--nprobe", type=int, default=0, help="BIN_IVF_FLAT nprobe (0 = nlist/4, >= 16)")
    s.add_argument("--segment-max-mb", type=int, default=0,
                   help="Milvus standalone started here: dataCoord.segment.maxSize in MB (0 = Milvus' 512; "
                   "with bitrag's schema 512 MB seals segments at 140,000 rows)")
    s.add_argument("--milvus-mmap", action="store_true",
                   help="Milvus standalone started here: map sealed segments' raw columns (queryNode.mmapDirPath)")
    s.add_argument("--oversamples", type=int, nargs="+", default=[1, 2, 4])
    s.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    s.add_argument("--concurrency-queries", type=int, default=0,
                   help="queries of the runs at concurrency > 1 (0 = all; at 10M an AUTO fallback scans 31 GB)")
    s.add_argument("--exact-queries", type=int, default=-1,
                   help="queries for EXACT mode (0 = skip; default 50 up to 2M rows, 3 above: each scans the float file)")
    s.add_argument("--st-multipliers", type=int, nargs="+", default=[4],
                   help="ST-style rescoring: Hamming top k*m rescored against bits")
    s.add_argument("--hnsw-m", type=int, default=16)
    s.add_argument("--hnsw-ef-construction", type=int, default=200)
    s.add_argument("--hnsw-ef", type=int, default=128)
    s.add_argument("--baselines", nargs="*", default=["numpy", "float32_milvus", "faiss_hnsw", "faiss_binary_rescore"],
                   choices=["numpy", "float32_milvus", "faiss_hnsw", "faiss_binary_rescore", "st_rescore"])
    s.add_argument("--keep", action="store_true",
                   help="keep the server/Milvus data after the run (then an interrupted ingest resumes)")
    s.add_argument("--fresh", action="store_true", help="discard a kept collection and earlier results of this name")
    s.add_argument("--ingest-slice", type=int, default=100_000, help="rows handed to ingest_vectors per call")
    s.add_argument("--ingest-batch", type=int, default=4096, help="rows per Ingest request (SDK batch_size)")
    s.add_argument("--no-plots", dest="plots", action="store_false")
    s.add_argument("--json", action="store_true", help="print the report JSON")
    s.set_defaults(func=cmd_scale)

    y = bs.add_parser("synth", help="generate/cache synthetic vectors (and ground truth) to a directory",
                      description="The generator (a Gaussian tree process fitted to real embeddings): write N corpus "
                      "rows + queries (raw float32, memory-mapped, resumable), optionally their exact top-100, a small "
                      "BEIR dir, or the fidelity report against held-out real vectors.")
    y.add_argument("--out", type=Path, default=DEFAULT_WORK / "synth", help="cache root (default %(default)s)")
    y.add_argument("--n", type=parse_n, default=100_000)
    y.add_argument("--queries", type=int, default=500)
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--fit-data", type=Path, default=DEFAULT_DATA)
    y.add_argument("--fit-embeddings", default="mpnet-base-768")
    y.add_argument("--rank", type=int, default=256)
    y.add_argument("--ground-truth", action="store_true", help="also the exact top-100 of the queries (cached)")
    y.add_argument("--fit", action="store_true",
                   help="re-fit the tree parameters (rho, rho_q) to --fit-data and record them in synth_params.json")
    y.add_argument("--fidelity", action="store_true",
                   help="fit on half of the real data, compare with the held-out half at equal N (each "
                   "--fidelity-embeddings); writes bench/results/synth_fidelity.{json,md}")
    y.add_argument("--fidelity-embeddings", nargs="+", default=["mpnet-base-768", "minilm-l6-384"])
    y.add_argument("--splits", type=int, default=3, help="random halvings averaged by --fidelity (default 3)")
    y.add_argument("--beir", type=Path, default=None, help="write a BEIR-format directory of N docs instead")
    y.add_argument("--no-qrels", dest="qrels", action="store_false", help="with --beir: no qrels/test.tsv")
    y.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    y.set_defaults(func=cmd_synth)

    co = bs.add_parser("corpus", help="build the real Debian-documentation corpus (MiniLM, BEIR shape)",
                       description="Download Debian documentation packages (apt-get download, unpacked under --out), "
                       "extract text, chunk with the server's splitter, embed with all-MiniLM-L6-v2; resumable. "
                       "Writes a BEIR directory usable by `bench quality --data` and `bench scale --data`.")
    from .corpus import DEFAULT_OUT as CORPUS_OUT, QUERIES as CORPUS_QUERIES

    co.add_argument("--out", type=Path, default=CORPUS_OUT, help="output directory (default %(default)s; outside git)")
    co.add_argument("--queries", type=int, default=CORPUS_QUERIES, help="heading queries (default %(default)s)")
    co.add_argument("--seed", type=int, default=0)
    co.set_defaults(func=cmd_corpus)

    g = bs.add_parser("gate", help="the confidence gate: calibration reliability, AUTO vs RESCORED vs EXACT")
    from .gate import add_arguments as add_gate_arguments

    add_gate_arguments(g)
    g.set_defaults(func=cmd_gate)

    pl = bs.add_parser("plots", help="re-draw plots and markdown from the JSON reports")
    pl.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    pl.add_argument("names", nargs="*", help="report stems (default: every scale_*/quality_* JSON)")
    pl.set_defaults(func=cmd_plots)


def _stop_on_sigterm() -> None:
    """SIGTERM -> SystemExit in the main thread, so `finally` blocks stop the servers this command
    started (a killed benchmark must not leave `bitrag serve` and Milvus running)."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass


def cmd_quality(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    from .quality import QualityConfig, run

    cfg = QualityConfig(data=args.data, embeddings=args.embeddings, backend=args.backend, milvus_uri=args.milvus_uri,
                        nlist=args.nlist, nprobe=args.nprobe, hamming_pool_factor=args.hamming_pool_factor, tier=args.tier,
                        oversamples=args.oversamples, out=args.out, name=args.name, plots=args.plots,
                        progress=args.progress, argv=sys.argv[1:])
    doc = run(cfg)
    if args.json:
        print(json.dumps(doc))
    else:
        from .report import quality_md

        print(quality_md(doc))
    return 0 if doc.get("server_exit_code", 0) == 0 else 1


def cmd_scale(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    from .scale import ScaleConfig, run

    cfg = ScaleConfig(
        ns=args.n, backend=args.backend, milvus_uri=args.milvus_uri, queries=args.queries, seed=args.seed,
        work_dir=args.work_dir.resolve(), out=args.out, name=args.name, fit_data=args.fit_data,
        fit_embeddings=args.fit_embeddings, rank=args.rank, real_data=args.real_data,
        real_embeddings=args.real_embeddings, nlist=args.nlist, nprobe=args.nprobe,
        segment_max_mb=args.segment_max_mb, milvus_mmap=args.milvus_mmap, oversamples=args.oversamples, concurrency=args.concurrency,
        concurrency_queries=args.concurrency_queries, exact_queries=args.exact_queries,
        st_multipliers=args.st_multipliers, hnsw_m=args.hnsw_m, hnsw_ef_construction=args.hnsw_ef_construction,
        hnsw_ef=args.hnsw_ef, baselines=args.baselines, keep=args.keep, fresh=args.fresh,
        ingest_slice=args.ingest_slice, ingest_batch=args.ingest_batch, plots=args.plots, argv=sys.argv[1:],
    )
    doc = run(cfg)
    if args.json:
        print(json.dumps(doc))
    else:
        print(f"report: {cfg.out / (cfg.report_name() + '.md')}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from .common import log, write_json
    from .synth import VectorCache, fidelity, fidelity_md, fit_from_beir, write_beir

    if args.fidelity:
        docs = []
        for emb in args.fidelity_embeddings:
            f = fidelity(args.fit_data, emb, splits=args.splits, rank=args.rank, progress=log)
            docs.append(f)
        write_json(args.results / "synth_fidelity.json", {"benchmark": "synth_fidelity", "runs": docs,
                                                          "command": "bitrag " + " ".join(sys.argv[1:])})
        md = fidelity_md(docs, "bitrag " + " ".join(sys.argv[1:]))
        (args.results / "synth_fidelity.md").write_text(md)
        print(md)
        return 0
    model = fit_from_beir(args.fit_data, args.fit_embeddings, args.rank, refit=args.fit, progress=log)
    log(f"model: {model.name}, PPCA rank {model.rank}, rho {model.rho}, rho_q {model.rho_query}")
    if args.beir is not None:
        out = write_beir(args.beir, model, args.n, args.queries, seed=args.seed, qrels=args.qrels)
        log(f"wrote a BEIR directory: {out} ({args.n:,} docs, {args.queries} queries, embeddings emb/synth)")
        return 0
    cache = VectorCache(args.out, model, args.seed)
    cache.get("corpus", args.n)
    cache.queries(args.queries, args.n)
    log(f"vectors: {cache.dir} (corpus.f32 {cache.rows('corpus'):,} rows, {args.queries} queries of the first "
        f"{args.n:,})")
    if args.ground_truth:
        _, _, secs = cache.ground_truth(args.n, args.queries, 100)
        log(f"ground truth: exact top-100 of {args.queries} queries over {args.n:,} rows ({secs:.1f} s)")
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    from .corpus import build

    info = build(args.out, queries=args.queries, seed=args.seed)
    print(json.dumps(info, indent=2))
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    from .gate import run

    return run(args)


def cmd_plots(args: argparse.Namespace) -> int:
    from . import report

    res: Path = args.results
    names = args.names or sorted(p.stem for p in res.glob("*.json") if p.stem.startswith(("scale", "quality")))
    for name in names:
        doc = json.loads((res / f"{name}.json").read_text())
        if doc.get("benchmark") == "scale":
            report.write_scale(doc, res)
        elif doc.get("benchmark") == "quality":
            report.write_quality(doc, res, name)
        else:
            continue
        print(f"re-rendered {res / name}.md and its plots")
    return 0
