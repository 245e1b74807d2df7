"""Synthetic embeddings with the neighbourhood structure of real ones, at any N, reproducibly.

Real document embeddings are not one Gaussian: documents come in families (versions, sections of
one manual, papers on one topic), so a query's neighbours sit at a continuum of distances. The
generator reproduces that with a Gaussian *tree process* fitted to a real embedding matrix
(default: the scifact corpus embedded with all-mpnet-base-v2, 5,183 x 768):

  global distribution   y ~ N(mean, C), C = W^T W + sigma^2 I  (probabilistic PCA, rank r: the real
                        mean, the real top-r spectrum, a flat tail)
  row i                 with probability p_root a new root: y_i = mean + zeta_i;
                        else a child of an earlier row p(i), drawn uniformly:
                        y_i = mean + rho * (nu * x_p(i) - mean) + sqrt(1 - rho^2) * zeta_i
                        x_i = y_i / |y_i|, zeta ~ N(0, C), nu = the typical |y|
  query j (of a corpus of N rows)  about a row t(j) drawn uniformly from [0, N):
                        q_j = normalise(mean + rho_q * (nu * x_t(j) - mean) + sqrt(1 - rho_q^2) * zeta_j
                                        + query_shift)

Every row has the global distribution as its marginal (the spectrum is still the real one), while a
row and its parent correlate by rho, siblings by rho^2, and so on: families at every scale, and the
number of close relatives grows slowly with N, as in a real corpus. rho and rho_q are fitted so that
synthetic data at the fit's size reproduces the real data's neighbour statistics (top-1/top-10
cosine, Hamming candidate recall at pools 40/160/1000, rescored recall at x1/x4; `fit_tree`);
`fidelity` checks them on real vectors held back from the fit. p_root is fixed (0.02).

Generation is sequential in batches whose boundaries do not depend on N (16, 32, ..., CHUNK rows,
then CHUNK rows each): batch b draws from `default_rng([seed, stream, b, ...])`, its parents lie
before the batch, and a batch is always computed whole, then cut. So a corpus of N rows is
bit-for-bit the prefix of any larger one (whatever BLAS does with other row counts), rows are the
same whatever the number of runs that produced them, and an interrupted generation resumes at a
batch boundary. Rows are written to a raw float32 little-endian file (`corpus.f32`, `[rows, d]`,
memory-mapped; rows done recorded in `corpus.json`): 10M x 768 (31 GB) never needs to be in RAM.
Queries depend on N (they are about rows of that corpus) and are cached per N.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..quantize import popcount
from .common import DEFAULT_DATA, exact_topk_blocked, log, write_json

CHUNK = 65536  # largest batch
FIRST_BATCH = 16
DEFAULT_RANK = 256
DEFAULT_FIT = "mpnet-base-768"
STREAM_CORPUS = 0
STREAM_QUERIES = 1
P_ROOT = 0.02
K = 10
STAT_KEYS = ("top1_cos", "top10_cos", "candidates@40", "candidates@160", "candidates@1000",
             "rescored@x1", "rescored@x4")
FIDELITY_TOLERANCE = 0.03
# Fitted tree parameters, committed: `bitrag bench synth --fit` re-fits and rewrites them.
PARAMS_FILE = Path(__file__).with_name("synth_params.json")


def batch_bounds(b: int) -> tuple[int, int]:
    """(first row, rows) of batch `b`: 16, 32, ... doubling to CHUNK, then CHUNK each."""
    doubling = CHUNK.bit_length() - FIRST_BATCH.bit_length()  # batches before the first full one
    if b < doubling:
        return FIRST_BATCH * ((1 << b) - 1), FIRST_BATCH << b
    first_full = FIRST_BATCH * ((1 << doubling) - 1)
    return first_full + (b - doubling) * CHUNK, CHUNK


def batch_of(row: int) -> int:
    """The batch holding `row`."""
    b = 0
    while sum(batch_bounds(b)) <= row:
        b += 1
    return b


@dataclass
class SynthModel:
    name: str  # where it was fitted, e.g. scifact/mpnet-base-768
    mean: np.ndarray  # [d]
    components: np.ndarray  # [r, d] W: scaled principal directions
    sigma: float  # isotropic noise std
    eigenvalues: np.ndarray  # [d] the real covariance spectrum, descending (for checks and reports)
    rho: float = 0.0  # row <-> parent correlation; 0 = independent rows (one Gaussian)
    rho_query: float = 0.0  # query <-> the row it is about
    p_root: float = P_ROOT
    query_shift: np.ndarray | None = None  # [d] mean(real queries) - mean(real corpus); None = 0
    nu: float = field(default=0.0)  # typical norm of an unnormalised sample (set in __post_init__)

    def __post_init__(self) -> None:
        if not self.nu:
            # E|y| for y ~ N(mean, C): sqrt(|mean|^2 + trace C) (the norm concentrates in high d)
            self.nu = float(np.sqrt(self.mean @ self.mean + (self.components**2).sum() + self.dim * self.sigma**2))

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
        parts = [self.mean, self.components, np.float64(self.sigma), np.float64(self.rho),
                 np.float64(self.rho_query), np.float64(self.p_root)]
        if self.query_shift is not None:
            parts.append(self.query_shift)
        for a in parts:
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        return h.hexdigest()[:12]

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, components=self.components, sigma=self.sigma,
                 eigenvalues=self.eigenvalues, name=self.name, rho=self.rho, rho_query=self.rho_query,
                 p_root=self.p_root, query_shift=np.zeros(self.dim) if self.query_shift is None else self.query_shift)

    @classmethod
    def load(cls, path: Path) -> SynthModel:
        z = np.load(path)
        return cls(str(z["name"]), z["mean"], z["components"], float(z["sigma"]), z["eigenvalues"],
                   float(z["rho"]), float(z["rho_query"]), float(z["p_root"]), z["query_shift"])

    # ---- sampling ------------------------------------------------------------------------------

    def _zeta(self, rng: np.random.Generator, rows: int) -> np.ndarray:
        """`[rows, d]` float32 draws of N(0, C), filled row by row."""
        z = rng.standard_normal((rows, self.rank), dtype=np.float32)
        e = rng.standard_normal((rows, self.dim), dtype=np.float32)
        out = z @ self.components.astype(np.float32)  # [B, r] @ [r, d] -> [B, d]
        e *= np.float32(self.sigma)
        out += e
        return out

    def _toward(self, x: np.ndarray, rho: np.ndarray | float, zeta: np.ndarray) -> np.ndarray:
        """mean + rho (nu x - mean) + sqrt(1 - rho^2) zeta, for unit rows `x` `[B, d]`."""
        mean = self.mean.astype(np.float32)
        r = np.asarray(rho, np.float32).reshape(-1, 1) if np.ndim(rho) else np.float32(rho)
        return mean + r * (np.float32(self.nu) * x - mean) + np.sqrt(np.float32(1.0) - r * r) * zeta

    def batch(self, seed: int, stream: int, b: int, earlier: np.ndarray) -> np.ndarray:
        """Batch `b` of a corpus stream: `[size, d]` float32 unit rows, computed whole. `earlier`:
        the rows before it (`[first, d]`, an array or a memmap; only the parents are read)."""
        first, size = batch_bounds(b)
        zeta = self._zeta(np.random.default_rng([seed, stream, b, 0]), size)
        if first == 0 or self.rho == 0.0:
            y = zeta + self.mean.astype(np.float32)
        else:
            rng = np.random.default_rng([seed, stream, b, 1])
            parents = rng.integers(0, first, size)
            root = rng.random(size) < self.p_root
            order = np.argsort(parents, kind="stable")  # one sorted pass over a memmap
            x = np.empty((size, self.dim), np.float32)
            x[order] = earlier[parents[order]]
            y = self._toward(x, np.where(root, 0.0, self.rho), zeta)
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        return y

    def sample(self, n: int, seed: int, stream: int = STREAM_CORPUS) -> np.ndarray:
        """`[n, d]` rows 0..n-1 of a corpus stream, in RAM."""
        b = batch_of(max(0, n - 1))
        out = np.empty((sum(batch_bounds(b)), self.dim), np.float32)
        for i in range(b + 1):
            first, size = batch_bounds(i)
            out[first : first + size] = self.batch(seed, stream, i, out[:first])
        return out[:n].copy()

    def queries(self, corpus: np.ndarray, n_queries: int, seed: int) -> np.ndarray:
        """`[Q, d]` queries about the rows of `corpus` `[N, d]` (each about one row drawn uniformly)."""
        n = corpus.shape[0]
        rng = np.random.default_rng([seed, STREAM_QUERIES, n, 0])
        targets = rng.integers(0, n, n_queries)
        order = np.argsort(targets, kind="stable")
        x = np.empty((n_queries, self.dim), np.float32)
        x[order] = corpus[targets[order]]
        q = self._toward(x, self.rho_query, self._zeta(np.random.default_rng([seed, STREAM_QUERIES, n, 1]), n_queries))
        if self.query_shift is not None:
            q += self.query_shift.astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        return q


def fit(x: np.ndarray, rank: int = DEFAULT_RANK, name: str = "") -> SynthModel:
    """Probabilistic PCA (maximum likelihood) of `x` `[n, d]`: the global distribution (rho = 0)."""
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


# ---- neighbour statistics: what the fit matches and the fidelity report checks ------------------


def neighbour_stats(q: np.ndarray, x: np.ndarray, k: int = K) -> dict[str, float]:
    """Mean top-1 / top-10 cosine of queries `q` `[Q, d]` over `x` `[N, d]`; Hamming candidate
    recall (share of the exact top-k inside the sign-code top P, P = 40/160/1000); rescored recall
    (the Hamming top k*o rescored exactly, o = 1/4)."""
    s = q @ x.T  # [Q, N]
    exact = np.argsort(-s, axis=1, kind="stable")[:, :k]
    qb, xb = np.packbits(q > 0, axis=1), np.packbits(x > 0, axis=1)
    ham = np.stack([popcount(np.bitwise_xor(xb, row)) for row in qb])  # [Q, N]
    order = np.argsort(ham, axis=1, kind="stable")
    out = {"top1_cos": float(np.take_along_axis(s, exact[:, :1], 1).mean()),
           "top10_cos": float(np.take_along_axis(s, exact[:, k - 1 : k], 1).mean())}
    for p in (40, 160, 1000):
        out[f"candidates@{p}"] = float(np.mean([np.isin(exact[i], order[i, :p]).mean() for i in range(len(q))]))
    for o in (1, 4):
        rec = []
        for i in range(len(q)):
            cand = order[i, : k * o]
            top = cand[np.argsort(-s[i, cand], kind="stable")[:k]]
            rec.append(np.isin(top, exact[i]).mean())
        out[f"rescored@x{o}"] = float(np.mean(rec))
    return out


def _mean_stats(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}


def _max_error(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[key] - b[key]) for key in STAT_KEYS)


def fit_tree(base: SynthModel, corpus: np.ndarray, queries: np.ndarray, *, seeds: tuple[int, ...] = (101, 102),
             n_queries: int = 300, progress: Callable[[str], None] | None = None,
             grid: tuple[np.ndarray, np.ndarray] | None = None, refine: bool = True) -> SynthModel:
    """rho, rho_q (and the query shift) such that synthetic data of the real corpus' size matches
    the real neighbour statistics of `queries` over `corpus` (the smallest largest difference over
    STAT_KEYS, averaged over `seeds`): a grid (rho 0.60..0.93, rho_q 0.40..0.80 by 0.05), then a
    finer one (by 0.0125) around its best point."""
    target = neighbour_stats(queries, corpus)
    shift = (queries.mean(0) - corpus.mean(0)).astype(np.float32)
    n = corpus.shape[0]

    def error(rho: float, rho_q: float) -> float:
        m = replace(base, rho=rho, rho_query=rho_q, query_shift=shift, nu=0.0)
        runs = []
        for s in seeds:
            x = m.sample(n, s)
            runs.append(neighbour_stats(m.queries(x, n_queries, s), x))
        return _max_error(_mean_stats(runs), target)

    def search(rhos: np.ndarray, rqs: np.ndarray, best: tuple[float, float, float]) -> tuple[float, float, float]:
        for rho in rhos:
            for rq in rqs:
                if 0.0 < rho < 1.0 and 0.0 < rq < 1.0:
                    e = error(float(rho), float(rq))
                    if e < best[0]:
                        best = (e, float(rho), float(rq))
        if progress:
            progress(f"fit: rho {best[1]:.4f} rho_q {best[2]:.4f}, largest stat difference {best[0]:.4f}")
        return best

    rhos, rqs = grid if grid is not None else (np.arange(0.60, 0.931, 0.05), np.arange(0.40, 0.801, 0.05))
    best = search(rhos, rqs, (np.inf, 0.0, 0.0))
    if refine:
        step = 0.0125
        best = search(best[1] + step * np.arange(-3, 4), best[2] + step * np.arange(-3, 4), best)
    return replace(base, rho=round(best[1], 4), rho_query=round(best[2], 4), query_shift=shift, nu=0.0)


def _load_real(data: Path, embeddings: str) -> tuple[np.ndarray, np.ndarray]:
    root = Path(data) / "emb" / embeddings
    if not (root / "corpus.npy").exists():
        raise SystemExit(f"{root / 'corpus.npy'}: missing; the synthetic generator is fitted to real embeddings (--fit-data)")
    x = np.load(root / "corpus.npy").astype(np.float32)
    q = np.load(root / "queries.npy").astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), q / np.linalg.norm(q, axis=1, keepdims=True)


def _data_key(data: Path, embeddings: str, x: np.ndarray, rank: int) -> str:
    h = hashlib.sha256(np.ascontiguousarray(x[:: max(1, len(x) // 512)]).tobytes()).hexdigest()[:12]
    return f"{Path(data).resolve().name}/{embeddings}/r{rank}/{h}"


def fit_from_beir(data: Path = DEFAULT_DATA, embeddings: str = DEFAULT_FIT, rank: int = DEFAULT_RANK, *,
                  refit: bool = False, progress: Callable[[str], None] | None = None) -> SynthModel:
    """The tree model of a BEIR directory's embeddings: PPCA from the corpus, rho / rho_q from
    `synth_params.json` when it holds this data's fit (else fitted now and recorded there)."""
    x, q = _load_real(data, embeddings)
    base = fit(x, rank, f"{Path(data).resolve().name}/{embeddings}")
    key = _data_key(data, embeddings, x, rank)
    params = json.loads(PARAMS_FILE.read_text()) if PARAMS_FILE.exists() else {}
    p = params.get(key)
    if p is None or refit:
        m = fit_tree(base, x, q, progress=progress)
        params[key] = {"rho": m.rho, "rho_query": m.rho_query, "p_root": m.p_root}
        PARAMS_FILE.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
        return m
    return replace(base, rho=p["rho"], rho_query=p["rho_query"], p_root=p["p_root"],
                   query_shift=(q.mean(0) - x.mean(0)).astype(np.float32), nu=0.0)


# ---- cached vector files -------------------------------------------------------------------------


class VectorCache:
    """`<root>/<model fingerprint>_seed<seed>/corpus.f32` + `.json` (rows done), queries per N.
    Grows on demand; `get("corpus", n)` returns a read-only memmap of the first n rows."""

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

    def rows(self, kind: str = "corpus") -> int:
        _, meta = self._paths(kind)
        if not meta.exists():
            return 0
        return int(json.loads(meta.read_text())["rows"])

    def get(self, kind: str, n: int, *, progress: bool = True) -> np.memmap:
        if kind != "corpus":
            raise ValueError("queries depend on the corpus size: use VectorCache.queries(n_queries, n)")
        path, meta = self._paths(kind)
        have = self.rows(kind)
        if have < n:
            self._extend(path, meta, have, n, progress)
        return np.memmap(path, dtype="<f4", mode="r", shape=(n, self.model.dim))

    def queries(self, n_queries: int, n: int) -> np.ndarray:
        """`[Q, d]` the queries of the corpus' first n rows (cached in `queries_<n>_<Q>.npy`)."""
        path = self.dir / f"queries_{n}_{n_queries}.npy"
        if path.exists():
            return np.load(path)
        q = self.model.queries(self.get("corpus", n, progress=False), n_queries, self.seed)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, q)
        os.replace(tmp, path)
        return q

    def _extend(self, path: Path, meta: Path, have: int, n: int, progress: bool) -> None:
        d = self.model.dim
        row_bytes = d * 4
        # Whole batches only (a batch is never half-written on disk as "done"), up to n.
        b0 = batch_of(have) if have else 0
        have = batch_bounds(b0)[0]
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        bar = None
        try:
            os.ftruncate(fd, have * row_bytes)
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=n, initial=have, unit="row", unit_scale=True, desc=f"synth {path.stem}",
                           smoothing=0.05, mininterval=2.0)
            t0 = time.perf_counter()
            b = b0
            while batch_bounds(b)[0] < n:
                first, size = batch_bounds(b)
                earlier = np.memmap(path, dtype="<f4", mode="r", shape=(first, d)) if first else np.empty((0, d), np.float32)
                x = self.model.batch(self.seed, STREAM_CORPUS, b, earlier)
                del earlier
                rows = min(size, n - first)
                data = x[:rows].astype("<f4", copy=False).tobytes()
                off, written = first * row_bytes, 0
                while written < len(data):
                    written += os.pwrite(fd, data[written:], off + written)
                if rows == size or first + rows == n:
                    os.fsync(fd)
                    write_json(meta, {"rows": first + rows, "dim": d, "seed": self.seed, "stream": STREAM_CORPUS,
                                      "model": self.model.name, "rank": self.model.rank, "rho": self.model.rho,
                                      "rho_query": self.model.rho_query, "fingerprint": self.model.fingerprint()})
                if bar is not None:
                    bar.update(rows)
                b += 1
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
        """Exact top-k ids/scores of the `n_queries` queries of the first `n` corpus rows, by a
        blocked scan of the float file; cached in `gt_<n>_<q>_<k>.npz`. Returns (ids, scores, seconds
        of the scan (0 when cached))."""
        path = self.dir / f"gt_{n}_{n_queries}_{k}.npz"
        if path.exists():
            z = np.load(path)
            return z["ids"], z["scores"], float(z["seconds"]) if "seconds" in z else 0.0
        corpus = self.get("corpus", n) if corpus is None else corpus
        queries = self.queries(n_queries, n) if queries is None else queries
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


# ---- fidelity: does the synthetic data look like real data it was not fitted on? ---------------


def fidelity(data: Path, embeddings: str, *, splits: int = 3, rank: int = DEFAULT_RANK,
             progress: Callable[[str], None] | None = None) -> dict:
    """Per split: the corpus and the queries are halved at random; the model (PPCA + tree) is fitted
    to one half, and synthetic data of the other half's size (corpus rows; 4x its queries, to keep
    the synthetic side's sampling noise small) is compared with that held-out real half. Figures are
    means over `splits` splits; a one-Gaussian model (the same PPCA, rho = 0) is reported beside."""
    x, q = _load_real(data, embeddings)
    real_runs, tree_runs, gauss_runs, params = [], [], [], []
    for s in range(splits):
        rng = np.random.default_rng(1000 + s)
        px, pq = rng.permutation(len(x)), rng.permutation(len(q))
        fit_x, held_x = x[px[: len(x) // 2]], x[px[len(x) // 2 :]]
        fit_q, held_q = q[pq[: len(q) // 2]], q[pq[len(q) // 2 :]]
        base = fit(fit_x, rank, f"{Path(data).resolve().name}/{embeddings}")
        m = fit_tree(base, fit_x, fit_q, progress=progress)
        params.append({"rho": m.rho, "rho_query": m.rho_query})
        real_runs.append(neighbour_stats(held_q, held_x))
        syn = m.sample(len(held_x), 2000 + s)
        tree_runs.append(neighbour_stats(m.queries(syn, 4 * len(held_q), 2000 + s), syn))
        g = replace(base, rho=0.0, rho_query=0.0, query_shift=m.query_shift, nu=0.0)
        gsyn = g.sample(len(held_x), 2000 + s)
        gauss_runs.append(neighbour_stats(g.queries(gsyn, 4 * len(held_q), 2000 + s), gsyn))
        if progress:
            progress(f"fidelity split {s + 1}/{splits}: rho {m.rho} rho_q {m.rho_query}")
    real, tree, gauss = _mean_stats(real_runs), _mean_stats(tree_runs), _mean_stats(gauss_runs)
    rows = {key: {"real": round(real[key], 4), "tree": round(tree[key], 4), "gaussian": round(gauss[key], 4),
                  "difference": round(tree[key] - real[key], 4),
                  "within": abs(tree[key] - real[key]) <= FIDELITY_TOLERANCE} for key in STAT_KEYS}
    return {"data": f"{Path(data).resolve().name}/{embeddings}", "dim": int(x.shape[1]), "rank": rank,
            "splits": splits, "corpus_rows_compared": int(len(x) - len(x) // 2),
            "queries_compared": int(len(q) - len(q) // 2), "tolerance": FIDELITY_TOLERANCE,
            "fitted": params, "stats": rows, "all_within": all(r["within"] for r in rows.values())}


def fidelity_md(docs: list[dict], command: str = "") -> str:
    """The fidelity report: per embedding set, real (held out) vs the tree model vs one Gaussian."""
    out = ["# Synthetic vectors vs held-out real vectors (bench synth --fidelity)", "",
           "Per split the real corpus and queries are halved at random; the generator (PPCA + Gaussian tree "
           "process) is fitted to one half and synthetic data of the other half's size is compared with that "
           "held-out half. Means over the splits; `gaussian` is the same PPCA without the tree (one Gaussian, "
           f"the previous generator). Tolerance: each statistic within {FIDELITY_TOLERANCE}.", ""]
    if command:
        out += [f"Command: `{command}`", ""]
    for d in docs:
        out += [f"## {d['data']} ({d['dim']}-d; {d['corpus_rows_compared']:,} corpus rows, "
                f"{d['queries_compared']} queries held out; {d['splits']} splits)", "",
                "fitted per split: " + ", ".join(f"rho {p['rho']} / rho_q {p['rho_query']}" for p in d["fitted"]), "",
                "| statistic | real (held out) | tree model | difference | within | one Gaussian |",
                "|---|---|---|---|---|---|"]
        for key, r in d["stats"].items():
            out.append(f"| {key} | {r['real']:.4f} | {r['tree']:.4f} | {r['difference']:+.4f} | "
                       f"{'yes' if r['within'] else 'no'} | {r['gaussian']:.4f} |")
        out += ["", f"All within {d['tolerance']}: **{'yes' if d['all_within'] else 'no'}**.", ""]
    return "\n".join(out)


# ---- a BEIR-format directory of synthetic data (tests, demos) -----------------------------------


def write_beir(out: Path, model: SynthModel, n_docs: int, n_queries: int, *, seed: int = 0, qrels: bool = True,
               name: str = "synth", rel_per_query: int = 3) -> Path:
    """corpus.jsonl, queries.jsonl, emb/<name>/{corpus,queries}.npy and (with `qrels`) qrels/test.tsv
    judging each query's exact top `rel_per_query` documents relevant."""
    out = Path(out)
    (out / "emb" / name).mkdir(parents=True, exist_ok=True)
    docs = model.sample(n_docs, seed, STREAM_CORPUS)
    qs = model.queries(docs, n_queries, seed)
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
