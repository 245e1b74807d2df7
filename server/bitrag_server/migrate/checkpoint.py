"""The import's checkpoint: one small JSON file rewritten atomically after every batch the bitrag
server acknowledged (temp file, fsync, rename, fsync of the directory), so a kill -9 at any moment
leaves the last acknowledged batch recorded. A rerun resumes after it; the batch in flight at the
kill is sent again, and the server's content hashes make that a no-op (documents_unchanged),
so nothing is lost or doubled.

The checkpoint names its source and target (`fingerprint`): a checkpoint of another migration is
never resumed by mistake."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


@dataclass
class Checkpoint:
    fingerprint: dict[str, Any]
    cursor: Any = None  # the source's cursor after the last acknowledged batch
    rows_done: int = 0
    batches_done: int = 0
    done: bool = False
    started_unix: float = field(default_factory=time.time)
    updated_unix: float = 0.0
    seconds: float = 0.0  # migrating time summed over runs
    runs: int = 0
    ingest: dict[str, int] = field(default_factory=dict)  # summed IngestResult counters
    version: int = VERSION

    @staticmethod
    def load(path: Path) -> Checkpoint | None:
        try:
            d = json.loads(Path(path).read_text())
        except FileNotFoundError:
            return None
        if d.get("version") != VERSION:
            raise ValueError(f"{path}: checkpoint version {d.get('version')}, expected {VERSION}")
        return Checkpoint(**d)

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.updated_unix = time.time()
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(asdict(self), indent=1, default=str))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_plan(path: Path, groups: list[list[Any]]) -> None:
    """A grouped import's plan (source keys, one list per document, in import order), written once
    before the first batch, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(groups, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_plan(path: Path) -> list[list[Any]] | None:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
