"""Synthetic embeddings with the statistics of real ones, at any N, reproducibly.

The model (probabilistic PCA) is fitted to a real embedding matrix (default: the scifact corpus
embedded with all-mpnet-base-v2, 5,183 x 768):

    x = normalise(mean + z @ W + sigma * e),   z ~ N(0, I_r), e ~ N(0, I_d)

`mean` is the real mean vector, `W` `[r, d]` spans the top-r principal directions with variances
lambda_i - sigma^2, and sigma^2 is the mean of the remaining d - r eigenvalues (isotropic noise), so
before renormalisation the covariance is exactly the real top-r spectrum plus a flat tail.
Queries come from the same model, on another random stream.

Generation is blocked and deterministic: block b (CHUNK rows) of stream s draws from
`default_rng([seed, s, b, 0])` (latent) and `default_rng([seed, s, b, 1])` (noise), so rows are the same whatever the order or the number of runs that
produced them, a corpus of N rows is the prefix of any larger one, and an interrupted generation
resumes where it stopped. Rows are written to a raw float32 little-endian file (`corpus.f32`,
`[rows, d]`, memory-mapped; rows done recorded in `corpus.json`): 10M x 768 (31 GB) never needs to
be in RAM.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import DEFAULT_DATA, exact_topk_blocked, log, write_json

CHUNK = 65536
DEFAULT_RANK = 256
DEFAULT_FIT = "mpnet-base-768"
STREAM_CORPUS = 0
STREAM_QUERIES = 1


@dataclass
class SynthModel:
    name: str  # where it was fitted, e.g. scifact/mpnet-base-768
    mean: np.ndarray  # [d]
    components: np.ndarray  # [r, d] W: scaled principal directions
    sigma: float  # isotropic noise std
    eigenvalues: np.ndarray  # [d] the real covariance spectrum, descending (for checks and reports)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def rank(self) -> int:
        return int(self.components.shape[0])

    def spectrum(self) -> np.ndarray:
        """`[d]` the model's covariance eigenvalues before renormalisation (descending)."""
        top = (self.components**2).sum(1) + self.sigma**2  # W rows are orthogonal: |W_i|^2 + s^2
        return np.concatenate([np.sort(top)[::-1], np.full(self.dim - self.rank, self.sigma**2)])

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for a in (self.mean, self.components, np.float64(self.sigma)):
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        return h.hexdigest()[:12]

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, components=self.components, sigma=self.sigma,
                 eigenvalues=self.eigenvalues, name=self.name)

    @classmethod
    def load(cls, path: Path) -> SynthModel:
        z = np.load(path)
        return cls(str(z["name"]), z["mean"], z["components"], float(z["sigma"]), z["eigenvalues"])

    # ---- sampling ------------------------------------------------------------------------------

    def block(self, seed: int, stream: int, index: int, rows: int = CHUNK) -> np.ndarray:
        """Block `index` of `stream`: `[rows, d]` float32 unit rows (rows <= CHUNK; a shorter block is
        the prefix of the full one)."""
        if not 0 < rows <= CHUNK:
            raise ValueError(f"rows must be in 1..{CHUNK}")
        # Always the whole block, then the prefix: BLAS may round a product differently for another
        # row count (seen on AMD EPYC: 1.8e-7 between a 50-row and a 300-row product), so a prefix is
        # bit-identical to the longer block only if it comes out of the same product.
        z = np.random.default_rng([seed, stream, index, 0]).standard_normal((CHUNK, self.rank), dtype=np.float32)
        e = np.random.default_rng([seed, stream, index, 1]).standard_normal((CHUNK, self.dim), dtype=np.float32)
        x = z @ self.components.astype(np.float32)  # [CHUNK, r] @ [r, d] -> [CHUNK, d]
        x += self.mean.astype(np.float32)
        e *= np.float32(self.sigma)
        x += e
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x[:rows].copy() if rows < CHUNK else x

    def sample(self, n: int, seed: int, stream: int) -> np.ndarray:
        """`[n, d]` rows 0..n-1 of a stream, in RAM."""
        out = np.empty((n, self.dim), np.float32)
        for b, start in enumerate(range(0, n, CHUNK)):
            rows = min(CHUNK, n - start)
            out[start : start + rows] = self.block(seed, stream, b, rows)
        return out


def fit(x: np.ndarray, rank: int = DEFAULT_RANK, name: str = "") -> SynthModel:
    """Probabilistic PCA (maximum likelihood) of `x` `[n, d]`."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    rank = min(rank, d - 1, n - 1)
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / max(1, n - 1)  # [d, d]
    ev, vec = np.linalg.eigh(cov)
    ev, vec = ev[::-1].clip(min=0), vec[:, ::-1]
    sigma2 = float(ev[rank:].mean())
    w = (vec[:, :rank] * np.sqrt(np.maximum(ev[:rank] - sigma2, 0.0))).T  # [r, d]
    return SynthModel(name, mean.astype(np.float32), w.astype(np.float32), float(np.sqrt(sigma2)), ev)


def fit_from_beir(data: Path = DEFAULT_DATA, embeddings: str = DEFAULT_FIT, rank: int = DEFAULT_RANK) -> SynthModel:
    path = Path(data) / "emb" / embeddings / "corpus.npy"
    if not path.exists():
        raise SystemExit(f"{path}: missing; the synthetic generator is fitted to real embeddings (--fit-data)")
    x = np.load(path).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return fit(x, rank, f"{Path(data).resolve().name}/{embeddings}")


# ---- cached vector files -------------------------------------------------------------------------


class VectorCache:
    """`<root>/<model fingerprint>_seed<seed>/{corpus,queries}.f32` + `.json` (rows done). Grows on
    demand; `get(kind, n)` returns a read-only memmap of the first n rows."""

    def __init__(self, root: Path, model: SynthModel, seed: int) -> None:
        self.model = model
        self.seed = seed
        self.dir = Path(root) / f"{model.name.replace('/', '_')}_r{model.rank}_{model.fingerprint()}_seed{seed}"
        self.dir.mkdir(parents=True, exist_ok=True)
        mp = self.dir / "model.npz"
        if not mp.exists():
            model.save(mp)

    def _paths(self, kind: str) -> tuple[Path, Path]:
        return self.dir / f"{kind}.f32", self.dir / f"{kind}.json"

    def rows(self, kind: str) -> int:
        _, meta = self._paths(kind)
        if not meta.exists():
            return 0
        return int(json.loads(meta.read_text())["rows"])

    def get(self, kind: str, n: int, *, progress: bool = True) -> np.memmap:
        stream = {"corpus": STREAM_CORPUS, "queries": STREAM_QUERIES}[kind]
        path, meta = self._paths(kind)
        d = self.model.dim
        have = self.rows(kind)
        if have < n:
            self._extend(path, meta, stream, have, n, progress)
        return np.memmap(path, dtype="<f4", mode="r", shape=(n, d))

    def _extend(self, path: Path, meta: Path, stream: int, have: int, n: int, progress: bool) -> None:
        d = self.model.dim
        row_bytes = d * 4
        # Whole blocks only (so a block is never half-written on disk as "done"), up to n.
        start_block = have // CHUNK
        have = start_block * CHUNK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        bar = None
        try:
            os.ftruncate(fd, max(have, 0) * row_bytes)
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=n, initial=have, unit="row", unit_scale=True, desc=f"synth {path.stem}",
                           smoothing=0.05, mininterval=2.0)
            t0 = time.perf_counter()
            for b in range(start_block, (n + CHUNK - 1) // CHUNK):
                first = b * CHUNK
                rows = min(CHUNK, n - first)
                x = self.model.block(self.seed, stream, b, rows)
                data = x.astype("<f4", copy=False).tobytes()
                off, written = first * row_bytes, 0
                while written < len(data):
                    written += os.pwrite(fd, data[written:], off + written)
                if rows == CHUNK or first + rows == n:
                    os.fsync(fd)
                    write_json(meta, {"rows": first + rows, "dim": d, "seed": self.seed, "stream": stream,
                                      "model": self.model.name, "rank": self.model.rank,
                                      "fingerprint": self.model.fingerprint(), "chunk": CHUNK})
                if bar is not None:
                    bar.update(rows)
            if bar is not None:
                bar.close()
                log(f"synth: {path.name} now {n:,} x {d} rows ({(n - have) / max(1e-9, time.perf_counter() - t0):,.0f} rows/s)")
        finally:
            os.close(fd)

    def codes(self, n: int, block: int = 262144) -> np.ndarray:
        """`[n, d/8]` packed sign codes of the first n corpus rows (the bits bitrag stores), cached in
        `codes_<n>.u8` (or read from a larger cached file)."""
        d8 = self.model.dim // 8
        for p in sorted(self.dir.glob("codes_*.u8"), key=lambda p: int(p.stem.split("_")[1])):
            if int(p.stem.split("_")[1]) >= n:
                return np.memmap(p, dtype=np.uint8, mode="r", shape=(n, d8))
        corpus = self.get("corpus", n, progress=False)
        out = np.empty((n, d8), np.uint8)
        for a in range(0, n, block):
            out[a : a + block] = np.packbits(np.asarray(corpus[a : a + block]) > 0, axis=1)
        path = self.dir / f"codes_{n}.u8"
        tmp = path.with_suffix(".tmp")
        out.tofile(tmp)
        os.replace(tmp, path)
        return out

    def ground_truth(self, n: int, n_queries: int, k: int, *, corpus: np.ndarray | None = None,
                     queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """Exact top-k ids/scores of the first `n_queries` queries over the first `n` corpus rows, by a
        blocked scan of the float file; cached in `gt_<n>_<q>_<k>.npz`. Returns (ids, scores, seconds
        of the scan (0 when cached))."""
        path = self.dir / f"gt_{n}_{n_queries}_{k}.npz"
        if path.exists():
            z = np.load(path)
            return z["ids"], z["scores"], float(z["seconds"]) if "seconds" in z else 0.0
        corpus = self.get("corpus", n) if corpus is None else corpus
        queries = self.get("queries", n_queries) if queries is None else queries
        from tqdm import tqdm

        t0 = time.perf_counter()
        with tqdm(total=n, unit="row", unit_scale=True, desc=f"ground truth {n_queries} queries", smoothing=0.05,
                  mininterval=2.0) as bar:
            ids, scores = exact_topk_blocked(np.asarray(queries), corpus, k, progress=bar.update)
        secs = time.perf_counter() - t0
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=ids, scores=scores, seconds=secs)
        os.replace(tmp, path)
        return ids, scores, secs


# ---- fidelity: does the synthetic data look like the real one? -----------------------------------


def _hamming_rescore_recall(q: np.ndarray, x: np.ndarray, oversamples=(1, 4), k: int = 10) -> dict[str, float]:
    s = q @ x.T
    exact = np.argsort(-s, axis=1, kind="stable")[:, :k]
    cb, qb = np.packbits(x > 0, axis=1), np.packbits(q > 0, axis=1)
    ham = np.unpackbits(qb[:, None, :] ^ cb[None, :, :], axis=-1).sum(-1, dtype=np.int32)  # [Q, N]
    order = np.argsort(ham, axis=1, kind="stable")
    out = {}
    for o in oversamples:
        cand = order[:, : k * o]
        rec = []
        for i in range(q.shape[0]):
            top = cand[i][np.argsort(-s[i, cand[i]], kind="stable")[:k]]
            rec.append(len(set(top.tolist()) & set(exact[i].tolist())) / k)
        out[f"hamming_rescore_recall@10_x{o}"] = round(float(np.mean(rec)), 4)
    return out


def _neighbour_stats(q: np.ndarray, x: np.ndarray) -> dict[str, float]:
    s = np.sort(q @ x.T, axis=1)[:, ::-1]
    return {
        "top1_cos": round(float(s[:, 0].mean()), 4),
        "top10_cos": round(float(s[:, min(9, s.shape[1] - 1)].mean()), 4),
        "top100_cos": round(float(s[:, min(99, s.shape[1] - 1)].mean()), 4),
        "mean_cos": round(float(s.mean()), 4),
    }


def fidelity(model: SynthModel, data: Path, embeddings: str, seed: int = 0) -> dict:
    """Real vs synthetic at the real corpus' size: covariance spectrum, mean, nearest-neighbour
    cosines and the difficulty of Hamming candidates (recall@10 of sign-code top 10*o rescored)."""
    real = np.load(Path(data) / "emb" / embeddings / "corpus.npy").astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    rq = np.load(Path(data) / "emb" / embeddings / "queries.npy").astype(np.float32)
    rq /= np.linalg.norm(rq, axis=1, keepdims=True)
    n, nq = real.shape[0], min(300, rq.shape[0])
    syn = model.sample(n, seed, STREAM_CORPUS)
    sq = model.sample(nq, seed, STREAM_QUERIES)
    ev_syn = np.linalg.eigvalsh(np.cov(syn.T.astype(np.float64)))[::-1]
    ev_real = model.eigenvalues
    out = {"model": model.name, "rank": model.rank, "dim": model.dim, "sigma": round(model.sigma, 6),
           "fingerprint": model.fingerprint(), "rows_compared": n, "queries_compared": nq, "real": {}, "synthetic": {}}
    for key, x, q, ev in (("real", real, rq[:nq], ev_real), ("synthetic", syn, sq, ev_syn)):
        out[key] = {
            "mean_norm": round(float(np.linalg.norm(x.mean(0))), 4),
            "variance_total": round(float(ev.sum()), 4),
            "eigen_top": [round(float(v), 5) for v in ev[:8]],
            "variance_share_top16_64_256": [round(float(ev[:r].sum() / ev.sum()), 4) for r in (16, 64, 256)],
            "share_positive_bits": round(float((x > 0).mean()), 4),
            **_neighbour_stats(q, x),
            **_hamming_rescore_recall(q, x),
        }
    out["mean_cosine_real_vs_synthetic"] = round(float(
        real.mean(0) @ syn.mean(0) / np.linalg.norm(real.mean(0)) / np.linalg.norm(syn.mean(0))), 4)
    return out


# ---- a BEIR-format directory of synthetic data (tests, demos) -----------------------------------


def write_beir(out: Path, model: SynthModel, n_docs: int, n_queries: int, *, seed: int = 0, qrels: bool = True,
               name: str = "synth", rel_per_query: int = 3) -> Path:
    """corpus.jsonl, queries.jsonl, emb/<name>/{corpus,queries}.npy and (with `qrels`) qrels/test.tsv
    judging each query's exact top `rel_per_query` documents relevant."""
    out = Path(out)
    (out / "emb" / name).mkdir(parents=True, exist_ok=True)
    docs = model.sample(n_docs, seed, STREAM_CORPUS)
    qs = model.sample(n_queries, seed, STREAM_QUERIES)
    doc_ids = [f"d{i}" for i in range(n_docs)]
    q_ids = [f"q{i}" for i in range(n_queries)]
    with open(out / "corpus.jsonl", "w") as f:
        f.writelines(json.dumps({"_id": d, "title": f"doc {i}", "text": f"synthetic document {i}"}) + "\n" for i, d in enumerate(doc_ids))
    with open(out / "queries.jsonl", "w") as f:
        f.writelines(json.dumps({"_id": q, "text": f"synthetic query {i}"}) + "\n" for i, q in enumerate(q_ids))
    np.save(out / "emb" / name / "corpus.npy", docs)
    np.save(out / "emb" / name / "queries.npy", qs)
    if qrels:
        (out / "qrels").mkdir(exist_ok=True)
        top, _ = exact_topk_blocked(qs, docs, rel_per_query)
        with open(out / "qrels" / "test.tsv", "w") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for qi, row in enumerate(top):
                f.writelines(f"{q_ids[qi]}\t{doc_ids[int(di)]}\t{rel_per_query - j}\n" for j, di in enumerate(row))
    return out
