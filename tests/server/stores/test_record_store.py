"""stores/record_store.py: per-row records beside the vectors, durable appends, crash repair, and
two processes' views of one directory (replicas on a shared volume)."""

from __future__ import annotations

import os
from pathlib import Path

from bitrag_server.stores.record_store import RECORD_INDEX, RECORDS, RecordStore


def _rec(i: int) -> dict:
    return {"chunk_id": f"c{i}", "doc_id": f"d{i // 2}", "doc_hash": "h" * 64, "text": f"tëxt {i} ✓" * (i % 3),
            "metadata": {"i": i}}


def test_append_get_in_any_order(tmp_path: Path) -> None:
    s = RecordStore(tmp_path)
    assert s.rows == 0 and s.get([]) == []
    assert s.append([_rec(i) for i in range(5)]) == 0
    assert s.append([_rec(i) for i in range(5, 8)]) == 5
    assert s.rows == 8
    assert s.get([7, 0, 3, 3]) == [_rec(7), _rec(0), _rec(3), _rec(3)]
    assert s.append([{}]) == 8 and s.get([8]) == [{}]  # an empty record (a row never acknowledged)
    s.close()
    s2 = RecordStore(tmp_path)  # reopened
    assert s2.rows == 9 and s2.get([1, 8]) == [_rec(1), {}]
    s2.close()


def test_repair_cuts_a_torn_append(tmp_path: Path) -> None:
    s = RecordStore(tmp_path)
    s.append([_rec(i) for i in range(3)])
    size = (tmp_path / RECORDS).stat().st_size
    s.close()
    with open(tmp_path / RECORDS, "ab") as f:  # records written, offsets not (or half of one)
        f.write(b'{"chunk_id":"c3","te')
    with open(tmp_path / RECORD_INDEX, "ab") as f:
        f.write(b"\x01\x02\x03")
    s = RecordStore(tmp_path)
    assert s.rows == 3  # a partial offset row is not a row
    s.repair()
    assert (tmp_path / RECORDS).stat().st_size == size and os.path.getsize(tmp_path / RECORD_INDEX) == 3 * 8
    assert s.append([_rec(3)]) == 3 and s.get([3, 2]) == [_rec(3), _rec(2)]
    s.truncate(2)
    assert s.rows == 2 and (tmp_path / RECORDS).stat().st_size < size
    assert s.append([_rec(9)]) == 2 and s.get([2]) == [_rec(9)]
    s.close()


def test_two_processes_share_the_files(tmp_path: Path) -> None:
    writer, reader = RecordStore(tmp_path), RecordStore(tmp_path)
    writer.append([_rec(i) for i in range(4)])
    assert reader.get([3]) == [_rec(3)]  # a row past what it knew: refreshed on read
    other = RecordStore(tmp_path)  # a second writer appends at the true end
    assert other.append([_rec(10)]) == 4
    assert writer.append([_rec(11)]) == 5
    assert reader.refresh() == 6 and reader.get([4, 5]) == [_rec(10), _rec(11)]
    for s in (writer, reader, other):
        s.close()


def test_append_at_pads_gaps_and_refuses_rows_out_of_order(tmp_path: Path) -> None:
    import pytest

    s = RecordStore(tmp_path)
    s.append_at([0, 3, 4], [_rec(0), _rec(3), _rec(4)])  # rows 1, 2 deleted: empty records
    assert s.rows == 5 and s.get([0, 1, 2, 3, 4]) == [_rec(0), {}, {}, _rec(3), _rec(4)]
    with pytest.raises(ValueError):
        s.append_at([2], [_rec(2)])
    assert s.rows == 5
    s.pad_to(7)
    assert s.rows == 7 and s.get([6]) == [{}]
    s.pad_to(3)  # never shrinks
    assert s.rows == 7
    s.close()
