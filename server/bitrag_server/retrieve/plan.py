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
              "ram" (an exact Hamming scan of every code in RAM + one Milvus liveness query of the
              answer), whichever measured cheaper at that pool (Settings.candidate_source can fix it)
  the costs   measured: median server time of an exact scan, of the binary path, of an in-RAM
              pass over every code (the widen fallback's last step), and of each pool source

Persisted in the manifest (`plan`), refitted with the gate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..domain import Route, Source

POOL_LADDER = (40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 16384)  # up to Milvus' search limit
NPROBE_TOLERANCE = 0.002
PLAN_K = 10


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
    ram_pool_us: int = 0  # median time of the in-RAM scan at pool + the liveness query of k rows
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
