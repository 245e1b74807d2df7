"""bitrag._core: how ingest requests are sized and how their answers become progress (no server)."""

from __future__ import annotations

import numpy as np
import pytest

from bitrag import Document, IngestProgress, IngestResult, InvalidArgumentError
from bitrag import _core


def test_document_requests_bounded_by_text_bytes_and_count() -> None:
    docs = [Document(f"d{i}", "x" * 100) for i in range(6)] + [Document("big", "y" * 1000), Document("z", "z")]
    batches = list(_core.document_requests("c", docs, chunk_size=0, chunk_overlap=0, batch_size=4, batch_bytes=250))
    assert [[d.id for d in b[0].documents] for b in batches] == [
        ["d0", "d1"], ["d2", "d3"], ["d4", "d5"], ["big"], ["z"]]  # a larger document goes alone
    assert [(n, nbytes) for _, n, nbytes in batches] == [(2, 200), (2, 200), (2, 200), (1, 1000), (1, 1)]
    by_count = list(_core.document_requests("c", docs[:6], chunk_size=0, chunk_overlap=0, batch_size=4))
    assert [n for _, n, _ in by_count] == [4, 2]  # the default 64 KiB does not bind here
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidArgumentError) as e:
            list(_core.document_requests("c", docs, chunk_size=0, chunk_overlap=0, batch_size=4, batch_bytes=bad))
        assert e.value.field == "batch_bytes"


def test_progress_meter_sums_answers_in_chunks() -> None:
    docs = [Document("a", "é" * 10), Document("b", "b" * 30)]  # bytes are UTF-8: 20 + 30
    seen: list[IngestProgress] = []
    meter = _core.ProgressMeter.for_documents(docs, seen.append)
    assert (meter.items_total, meter.bytes_total) == (2, 50)
    meter.answered((None, 1, 20), IngestResult(documents_added=1, chunks_written=3))  # type: ignore[arg-type]
    meter.answered((None, 1, 30), IngestResult(documents_unchanged=1))  # type: ignore[arg-type]
    assert [(p.chunks, p.chunks_step, p.items, p.bytes_done) for p in seen] == [(3, 3, 1, 20), (3, 0, 2, 50)]
    assert seen[-1].eta_s == 0.0
    v = _core.as_float32(np.zeros((7, 4)))
    vm = _core.ProgressMeter.for_vectors(v, None)
    assert (vm.items_total, vm.bytes_total) == (7, 7 * 16)


def test_progress_rate_and_eta() -> None:
    p = IngestProgress(chunks=30, chunks_step=10, items=3, items_total=10, bytes_done=1000, bytes_total=4000,
                       elapsed_s=2.0)
    assert (p.chunks_per_s, p.bytes_per_s, p.eta_s) == (15.0, 500.0, 6.0)
    assert IngestProgress(0, 0, 0, 1, 0, 10, 0.0).eta_s is None
