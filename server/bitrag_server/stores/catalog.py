"""Collection manifests on disk: `<data_dir>/collections/<name>/collection.json` beside the float32
file. Written atomically (temp file, fsync, rename, fsync dir): a crash leaves the old or the new
manifest, never a torn one."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from collections.abc import Callable
from pathlib import Path

from ..domain import Fallback, GateConfig, IndexConfig, LegacyStore
from ..errors import InvalidArgument
from .float_store import fsync_dir
from .shared import FileLock

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
MANIFEST = "collection.json"
VECTORS = "vectors.f32"
CODES = "codes.u8"
LIVE = "live.u8"  # 1 byte per row: does Milvus hold it (stores/float_store.LiveStore)
TIER = "tier.u8"  # middle-tier codes (multi-bit tiers), derived from the floats
CATALOG_LOCK = ".catalog.lock"
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")
WRITE_LOCK = "write.lock"
TRASH = ".trash-"


def check_name(name: str, field: str = "name") -> str:
    if not name:
        raise InvalidArgument("collection name is required", field=field)
    if not NAME_RE.fullmatch(name):  # fullmatch: `$` would accept a trailing newline
        raise InvalidArgument(
            f"invalid collection name {name[:80]!r}: 1-63 of [A-Za-z0-9_], starting with a letter",
            field=field,
        )
    return name


FALLBACKS = tuple(f.value for f in Fallback)
LAYOUT = 2  # of new collections


@dataclass
class Manifest:
    name: str
    dimension: int
    embedder: str  # "local:<model>", "openai:<model>" or "none"
    index: IndexConfig
    default_oversample: int
    description: str = ""
    thresholds: list[float] | None = None  # None == zeros
    generation: int = 0
    created_unix_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    milvus_collection: str = ""
    milvus_write_ts: int = 0  # Milvus hybrid timestamp of the last insert/delete (any replica)
    consistency_level: str = ""  # "" = created before it was recorded: the server default
    partition_key: str = ""  # metadata key stored in the Milvus partition-key field PARTITION_FIELD
    num_partitions: int = 0
    gate: GateConfig = field(default_factory=GateConfig)
    # 1: chunk ids, text and hashes also in Milvus (collections created before layout 2);
    # 2: only in the data directory's record store (new collections). See stores/record_store.py.
    layout: int = 1
    calibration: dict = field(default_factory=dict)  # retrieve.gate.Calibration fields
    # The middle tier (domain.Tier) and, once fitted from the data, its quantizer (per-dimension
    # lower bounds and steps) and the measured search plan (retrieve.plan.SearchPlan fields).
    # Collections created before tiers existed rank with the +-1 codes ("sign").
    tier: str = "sign"
    tier_quantizer: dict = field(default_factory=dict)
    plan: dict = field(default_factory=dict)
    compactions: int = 0  # completed; names the Milvus collection of the next one (compact.py)
    # set by a compaction's commit until its new row files are in place and the old Milvus
    # collection is dropped: {"old_milvus": name, "suffix": ".compact"} (a restart completes it)
    compact_pending: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        d = json.loads(text)
        d["index"] = IndexConfig(**d["index"])
        gate = dict(d.get("gate", {}))
        gate["legacy_store"] = LegacyStore(**gate.get("legacy_store", {}))
        d["gate"] = GateConfig(**gate)
        return cls(**d)


class Catalog:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "collections"
        self.root.mkdir(parents=True, exist_ok=True)

    def dir(self, name: str) -> Path:
        return self.root / name

    def lock(self) -> FileLock:
        """Serialises create / drop / sweep across processes sharing the data directory."""
        return FileLock(self.root / CATALOG_LOCK)

    def collection_lock(self, name: str) -> FileLock:
        """Serialises a collection's writes (row files, Milvus, manifest) across processes."""
        self.dir(name).mkdir(parents=True, exist_ok=True)
        return FileLock(self.dir(name) / WRITE_LOCK)

    def signature(self, name: str) -> tuple[int, int, int] | None:
        """(mtime_ns, size, inode) of the manifest, None if the collection does not exist: a
        rewrite (atomic replace) changes the inode, so a change is never missed."""
        try:
            st = os.stat(self.dir(name) / MANIFEST)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if (p / MANIFEST).is_file())

    def load(self, name: str) -> Manifest:
        return Manifest.from_json((self.dir(name) / MANIFEST).read_text())

    def save(self, m: Manifest) -> None:
        d = self.dir(m.name)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / (MANIFEST + ".tmp")
        with open(tmp, "w") as f:
            f.write(m.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, d / MANIFEST)
        fsync_dir(d)

    def remove(self, name: str, then: Callable[[Path], None] | None = None) -> None:
        """Drop a collection's directory. The rename to trash is the commit point (a crash after it
        leaves no collection, and the next `sweep` finishes the job); `then(trash_dir)` runs after
        it (the Milvus drop), before the files are deleted."""
        d = self.dir(name)
        if not d.exists():
            return
        trash = self.root / f"{TRASH}{name}-{time.time_ns()}"
        os.replace(d, trash)
        fsync_dir(self.root)
        if then is not None:
            then(trash)
        shutil.rmtree(trash, ignore_errors=True)

    def sweep(self, dropped: Callable[[Path], None] | None = None,
              uncreated: Callable[[str], None] | None = None) -> None:
        """Remove leftovers of interrupted creates/drops (dirs without a manifest, trash); for each
        trash dir of a drop interrupted before Milvus was told, `dropped(trash_dir)` first; for each
        create interrupted before its manifest, `uncreated(name)` first (its Milvus collection)."""
        for p in self.root.iterdir():
            if p.is_dir() and p.name.startswith(TRASH):
                if dropped is not None and (p / MANIFEST).is_file():
                    dropped(p)
                shutil.rmtree(p, ignore_errors=True)
            elif p.is_dir() and not (p / MANIFEST).is_file():
                if uncreated is not None and NAME_RE.fullmatch(p.name):
                    uncreated(p.name)
                shutil.rmtree(p, ignore_errors=True)
