"""Stage 3: exact float32 rescoring of the pool, in middle-tier order, until the answer is safe.

Float rows are read best estimate first, in growing batches (`first`, then doubling), each batch
one sorted, prefetched gather (`FloatStore.gather`). After each batch the gate's feature `z`
(gate.py) compares the k-th exact score found so far with the best estimate still unread (or,
once the whole pool is read, with the best estimate at the pool's boundary, which stands for the
rows Milvus did not return): if the calibrated confidence of `z` reaches the threshold, no unread
candidate is likely to beat the k-th, and reading stops. So an easy query reads ~k rows and a hard
one reads more, with one rule.

`rescore_fixed` is the RESCORED mode: a fixed budget of rows, no gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..stores.float_store import FloatStore
from .gate import Z_COVERED, confidence_feature
from .topk import top_positions


@dataclass
class Step:
    """One batch of the stopping rule: the feature after it and the top-k it had."""

    z: float
    rows: np.ndarray  # [k] row ids, best first


@dataclass
class Rescored:
    rows: np.ndarray  # [k] row ids, best first
    scores: np.ndarray  # [k] exact scores
    z: float  # the gate's feature of this answer
    read: int  # float rows read
    exhausted: bool  # every candidate of the pool was read
    covered: bool  # the pool held every eligible row: the answer is exact
    steps: list[Step] = field(default_factory=list)
    # every row read and its exact score (a widened pool continues from them)
    read_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    read_scores: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    read_est: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))


def _answer(ids: np.ndarray, exact: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    pos = top_positions(exact, top_k)
    return ids[pos], exact[pos]


def rescore_until(
    query: np.ndarray,  # [d]
    ids: np.ndarray,  # [P] candidate rows
    est: np.ndarray,  # [P] their middle-tier estimates
    floats: FloatStore,
    top_k: int,
    *,
    first: int,
    accept: Callable[[float], bool],
    boundary: float | None,  # estimate standing for rows outside the pool; None = the pool is complete
    done: Rescored | None = None,  # rows already read (a widened pool goes on from them)
    check: Callable[[], None] | None = None,  # raises when the caller is gone
) -> Rescored:
    """Read float rows of `ids` best estimate first until `accept(z)` or the pool is exhausted."""
    seen = set(done.read_ids.tolist()) if done is not None else set()
    keep = np.fromiter((i not in seen for i in ids.tolist()), bool, ids.size) if seen else np.ones(ids.size, bool)
    order = np.flatnonzero(keep)[np.argsort(-est[keep], kind="stable")]  # unread, best estimate first
    r_ids = [done.read_ids] if done is not None else []
    r_exact = [done.read_scores] if done is not None else []
    r_est = [done.read_est] if done is not None else []
    steps = list(done.steps) if done is not None else []
    pos, batch, z = 0, max(1, first), 0.0
    while True:
        if check is not None:
            check()
        take = order[pos : pos + batch]
        pos += take.size
        if take.size:
            r_ids.append(ids[take])
            r_exact.append(floats.gather(ids[take]) @ query)  # [b, d] @ [d] -> [b]
            r_est.append(est[take])
        all_ids, all_exact, all_est = np.concatenate(r_ids), np.concatenate(r_exact), np.concatenate(r_est)
        top_rows, top_scores = _answer(all_ids, all_exact, top_k)
        exhausted = pos >= order.size
        left = float(est[order[pos]]) if not exhausted else boundary
        if all_ids.size < top_k:
            z = Z_COVERED if exhausted and boundary is None else 0.0
        else:
            z = confidence_feature(all_est, all_exact, float(top_scores[-1]), left)
        steps.append(Step(z, top_rows))
        if exhausted or accept(z):
            return Rescored(top_rows, top_scores, z, int(all_ids.size), exhausted,
                            exhausted and boundary is None, steps, all_ids, all_exact.astype(np.float32), all_est)
        batch *= 2


def rescore_fixed(query: np.ndarray, ids: np.ndarray, est: np.ndarray, floats: FloatStore, top_k: int,
                  budget: int, boundary: float | None) -> Rescored:
    """The `budget` best estimates rescored, nothing more (RESCORED mode)."""
    return rescore_until(query, ids, est, floats, top_k, first=budget, accept=lambda z: True, boundary=boundary)
