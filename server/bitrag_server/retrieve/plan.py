"""A collection's search plan: what calibration measured, and what every AUTO search then does.

  pool        Hamming candidates one Milvus search returns for k = `k` (scaled for other k): the
              smallest pool whose measured candidate recall (share of the exact top-k inside it)
              meets the collection's target with room for the float stage, from a ladder of sizes
  nprobe      IVF lists probed (BIN_IVF_FLAT): the fewest whose measured candidate recall at that
              pool is within `NPROBE_TOLERANCE` of probing every list (0 = the index's default)
  route       AUTO's first path: "binary", or "exact" when an exact scan costs less than the binary
              path's expected time (binary + its fallback share x the fallback's time), e.g. small
              collections, or vectors whose codes cannot meet the target (random vectors)
  source      where an unfiltered query's pool comes from: "milvus" (one search at pool / nprobe) or
              "ram" (an exact Hamming scan of every code in RAM keeping the rows the live flags mark
              live, no Milvus call), whichever measured cheaper at that pool (Settings.candidate_source
              can fix it)
  the costs   measured: median server time of an exact scan, of the binary path, of an in-RAM
              pass over every code (the widen fallback's last step), and of each pool source

Persisted in the manifest (`plan`), refitted with the gate.

Before a plan is measured (a collection just ingested, before its background calibration; one too
small to calibrate), AUTO's route comes from its served queries instead (`ObservedRoutes`): both
routes timed as they serve, the cheaper taken. Uncalibrated, the gate trusts no binary answer, so
the binary route ends in widening or an exact scan anyway (a user's 20k x 256 vectors: 22.7 ms
widened where EXACT took 6.6 ms, bench/results/user_vectors.md).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field

from ..domain import Route, Source

POOL_LADDER = (40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 16384)  # up to Milvus' search limit
NPROBE_TOLERANCE = 0.002
PLAN_K = 10
# ObservedRoutes: queries between re-timings of the dearer route (only while within CLOSE x the
# cheaper's time), the EWMA weight of a new time, and the exact scan's speed assumed before one is
# timed (float32 values scored per microsecond; this machine measured 870 at 20k x 256 and 2,900
# at 1M x 768): an exact scan is first tried only where this estimate is within CLOSE x the binary
# route's observed time, so a large uncalibrated collection never pays a full scan to find out.
EXPLORE_EVERY = 32
CLOSE = 3.0
EWMA = 0.3
EXACT_FLOATS_PER_US = 1000.0


@dataclass
class SearchPlan:
    pool: int = 0  # 0 = not measured: k * oversample * hamming_pool_factor
    nprobe: int = 0  # 0 = the index's search params
    route: str = Route.BINARY.value
    source: str = Source.MILVUS.value
    k: int = PLAN_K
    candidate_recall: float = 0.0  # at pool / nprobe, measured
    pool_recall: dict[str, float] = field(default_factory=dict)  # pool size -> candidate recall
    nprobe_recall: dict[str, float] = field(default_factory=dict)  # nprobe -> candidate recall at pool
    exact_us: int = 0  # median server time of an exact scan
    binary_us: int = 0  # median time of AUTO's binary route: the binary path + its fallbacks where not confident
    scan_us: int = 0  # an in-RAM pass over every code
    milvus_pool_us: int = 0  # median time of one Milvus search at pool / nprobe
    ram_pool_us: int = 0  # median time of the in-RAM scan at pool, live rows kept (live.u8)
    fallback_share: float = 0.0  # calibration queries below the threshold after the binary path
    rows: int = 0  # rows when measured
    measured_unix_ms: int = 0

    @property
    def measured(self) -> bool:
        return self.pool > 0

    def pool_for(self, top_k: int, default: int, cap: int) -> int:
        """The Milvus pool of a query for `top_k` results."""
        if not self.measured:
            return min(cap, default)
        return min(cap, max(top_k, self.pool * max(1, -(-top_k // self.k))))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> SearchPlan:
        if not d:
            return cls()
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class ObservedRoutes:
    """AUTO's route before a plan is measured: each route's server time on served queries (EWMA,
    microseconds), the cheaper one taken; the binary route is timed first, the exact one when its
    estimate (rows x d / EXACT_FLOATS_PER_US) is within CLOSE x the binary's time, and the dearer
    of the two again every EXPLORE_EVERY queries while within CLOSE x. Both routes answer at the
    target (the exact one exactly), so only time decides."""

    def __init__(self) -> None:
        self.us: dict[Route, float] = {}
        self.n = 0
        self._lock = threading.Lock()

    def pick(self, rows: int, dim: int) -> Route:
        with self._lock:
            self.n += 1
            b, e = self.us.get(Route.BINARY), self.us.get(Route.EXACT)
            if b is None:
                return Route.BINARY
            if e is None:
                return Route.EXACT if rows * dim / EXACT_FLOATS_PER_US < CLOSE * b else Route.BINARY
            best, other = (Route.EXACT, Route.BINARY) if e <= b else (Route.BINARY, Route.EXACT)
            if self.n % EXPLORE_EVERY == 0 and self.us[other] < CLOSE * self.us[best]:
                return other
            return best

    def observe(self, route: Route, us: float) -> None:
        with self._lock:
            prev = self.us.get(route)
            self.us[route] = us if prev is None else (1 - EWMA) * prev + EWMA * us
