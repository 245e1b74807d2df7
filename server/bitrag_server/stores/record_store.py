"""Per-row records on disk, beside the vectors: chunk id, document id, document hash, text, metadata.

Milvus keeps what it searches and filters on (row id, binary code, document id, metadata); what a
search only returns lives here, so Milvus' resident memory per row stays near the code's own
size (measured, Milvus 2.3 standalone, 300k rows: 2.4 KB of anonymous memory per row with text,
ids and hash in Milvus, 0.66 KB without) and a search fetches its hits without a second Milvus
round trip.

    records.bin   the records, JSON (UTF-8), concatenated
    records.idx   `[rows]` uint64: the end offset of each row's record in records.bin

Row number == the float file's row == the Milvus primary key. Append-only, like the row files:
`append` writes the records, fsyncs, then appends their end offsets (fsync), so an offset never
points past durable bytes. A crash leaves at most unreferenced bytes at the end of records.bin
and a partial offset row, which the next writer's `repair` cuts away. Replicas sharing the
directory `refresh` like the row files.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .float_store import RowFile, fsync_dir, pwrite_all

RECORDS = "records.bin"
RECORD_INDEX = "records.idx"


@dataclass(frozen=True)
class ChunkRecord:
    """One row's record, as written (JSON object with exactly these keys; `get` returns dicts)."""

    chunk_id: str
    doc_id: str
    doc_hash: str
    text: str
    metadata: dict[str, Any]
    ingested_ms: int = 0  # when the row was written (ListDocuments); 0: not kept (older rows), not stored

    def legacy_fields(self) -> dict[str, str]:
        """The record fields a layout 1 collection also keeps in Milvus (binary_index.LEGACY_FIELDS)."""
        return {"chunk_id": self.chunk_id, "doc_hash": self.doc_hash, "text": self.text}


def _json(record: ChunkRecord | Mapping[str, Any]) -> bytes:
    if isinstance(record, ChunkRecord):
        d = asdict(record)
        if not record.ingested_ms:
            del d["ingested_ms"]
        obj: Mapping[str, Any] = d
    else:
        obj = record
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class OffsetFile(RowFile):
    """`[n, 1]` uint64 end offsets."""

    dtype = "<u8"

    def __init__(self, path: Path) -> None:
        super().__init__(path, 1)


class RecordStore:
    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / RECORDS
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if created:
            fsync_dir(self.path.parent)
        self.index = OffsetFile(Path(directory) / RECORD_INDEX)
        self._lock = threading.Lock()

    def reopen(self) -> RecordStore:
        return RecordStore(self.path.parent)

    @property
    def rows(self) -> int:
        return self.index.rows

    def refresh(self) -> int:
        return self.index.refresh()

    def _end(self, rows: int) -> int:
        """Byte offset where row `rows` starts (the end of row `rows - 1`)."""
        return int(self.index.gather(np.asarray([rows - 1]))[0, 0]) if rows > 0 else 0

    def repair(self) -> None:
        """Cut a partial offset row and record bytes no offset points at (a crash mid-append).
        A writer's job: the caller holds the collection's write lock."""
        self.index.repair()
        end = self._end(self.index.rows)
        with self._lock:
            if os.fstat(self._fd).st_size > end:
                os.ftruncate(self._fd, end)
                os.fsync(self._fd)

    def truncate(self, rows: int) -> None:
        """Drop rows past `rows` (never acknowledged: a crash between two files' appends)."""
        if rows < self.index.rows:
            self.index.truncate(rows)
            self.repair()

    def append(self, records: Sequence[ChunkRecord | Mapping[str, Any]]) -> int:
        """Append records (a ChunkRecord, or {} for a row never to be read) durably; returns the
        row id of the first."""
        self.repair()  # the true end, as another replica or a crash left it
        blobs = [_json(r) for r in records]
        start_byte = self._end(self.index.rows)
        data = b"".join(blobs)
        with self._lock:
            pwrite_all(self._fd, data, start_byte)
            os.fsync(self._fd)
        ends = start_byte + np.cumsum([len(b) for b in blobs], dtype=np.uint64)
        return self.index.append(ends.reshape(-1, 1))

    def append_at(self, rows: Sequence[int], records: Sequence[ChunkRecord | Mapping[str, Any]]) -> None:
        """Append records whose row ids are given (ascending, from the current end on): rows in
        between get empty records (rows deleted in Milvus, never to be read)."""
        out: list[ChunkRecord | Mapping[str, Any]] = []
        for row, rec in zip(rows, records):
            gap = int(row) - self.rows - len(out)
            if gap < 0:
                raise ValueError(f"row {row} is out of order (the store has {self.rows + len(out)} rows)")
            out.extend({} for _ in range(gap))
            out.append(rec)
        if out:
            self.append(out)

    def pad_to(self, rows: int) -> None:
        """Empty records up to `rows` rows (rows never inserted into Milvus, or deleted at the end)."""
        if self.rows < rows:
            self.append([{}] * (rows - self.rows))

    def get(self, rows: Sequence[int]) -> list[dict[str, Any]]:
        """The records of `rows`, in that order."""
        ids = np.asarray(rows, dtype=np.int64)
        if ids.size == 0:
            return []
        ends = self.index.gather(ids)[:, 0].astype(np.int64)
        prev = ids - 1
        starts = np.zeros(ids.size, np.int64)
        has_prev = prev >= 0
        if has_prev.any():
            starts[has_prev] = self.index.gather(prev[has_prev])[:, 0].astype(np.int64)
        return [json.loads(os.pread(self._fd, int(e - s), int(s))) if e > s else {} for s, e in zip(starts, ends)]

    def paths(self) -> list[Path]:
        return [self.path, self.index.path]

    def copy_rows(self, rows: np.ndarray, suffix: str, batch: int = 4096) -> None:
        """Write the records of `rows` (ascending) to `records.bin<suffix>` + `records.idx<suffix>`,
        bytes copied as stored (no JSON round trip), fsynced; see RowFile.copy_rows."""
        data_fd = os.open(str(self.path) + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        idx_fd = os.open(str(self.index.path) + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            end = 0
            for i in range(0, rows.size, batch):
                ids = np.asarray(rows[i : i + batch], dtype=np.int64)
                ends = self.index.gather(ids)[:, 0].astype(np.int64)
                starts = np.zeros(ids.size, np.int64)
                has_prev = ids > 0
                if has_prev.any():
                    starts[has_prev] = self.index.gather(ids[has_prev] - 1)[:, 0].astype(np.int64)
                blob = b"".join(os.pread(self._fd, int(e - s), int(s)) if e > s else b"" for s, e in zip(starts, ends))
                new_ends = end + np.cumsum(ends - starts, dtype=np.uint64)
                os.write(data_fd, blob)
                os.write(idx_fd, new_ends.astype("<u8").tobytes())
                end += len(blob)
            os.fsync(data_fd)
            os.fsync(idx_fd)
        finally:
            os.close(data_fd)
            os.close(idx_fd)

    @property
    def bytes_on_disk(self) -> int:
        return self._end(self.index.rows) + self.index.bytes_on_disk

    def close(self) -> None:
        self.index.close()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
