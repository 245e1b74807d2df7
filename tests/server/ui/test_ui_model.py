"""The UI's view logic (bitrag_server.ui.model), without Streamlit; uploads are ingested into a
real server."""

from __future__ import annotations

import pytest

import bitrag
from bitrag import CollectionInfo, SearchDiagnostics
from bitrag_server.ui import model


def diag(**kw) -> SearchDiagnostics:
    base = dict(path="BINARY_RESCORED", candidates_examined=40, oversample=4,
                timings_us={"embed": 1500, "candidates": 800, "rescore": 250}, total_us=2600, mode="AUTO",
                confidence=0.97, threshold=0.9, pools=[160], calibrated=True)
    return SearchDiagnostics(**{**base, **kw})


def test_link_citations_links_only_sources() -> None:
    text = "Codes live in RAM [1], floats on disk [2][3]; see also [9] and [x]."
    out = model.link_citations(text, [1, 2, 3])
    assert out == ("Codes live in RAM [\\[1\\]](#source-1), floats on disk [\\[2\\]](#source-2)"
                   "[\\[3\\]](#source-3); see also [9] and [x].")
    assert model.link_citations("no citations", [1]) == "no citations"
    assert model.anchor(4) == "source-4"


def test_plain_escapes_markdown() -> None:
    assert model.plain("**bold**  [1](x)\n# h") == r"\*\*bold\*\* \[1\]\(x\) \# h"


@pytest.mark.parametrize(("meta", "page"), [
    ({"page_label": "iv", "page": 4}, "iv"),  # the reader's label wins
    ({"page": 7}, "7"),
    ({"page": 0}, "0"),
    ({"page_label": " ", "page": 2}, "2"),
    ({"title": "x"}, None),
    ({}, None),
])
def test_source_page(meta: dict, page: str | None) -> None:
    assert model.source_page(meta) == page


def test_memory_ratio_to_a_float32_index() -> None:
    info = CollectionInfo(
        name="c", dimension=384, embedder="local", index=bitrag.IndexSpec("BIN_FLAT"), default_oversample=4,
        description="", rows=1000, float_rows=1200, bytes_in_ram=1000 * 48, bytes_on_disk=1200 * 384 * 4,
        generation=1, created_unix_ms=0, gate=bitrag.GateConfig(), calibration=None,  # type: ignore[arg-type]
    )
    m = model.memory(info)
    assert m.float32_index == 1000 * 384 * 4 and m.floats_on_disk == 1200 * 384 * 4
    assert m.ratio == pytest.approx(32.0)
    empty = model.memory(CollectionInfo(**{**info.__dict__, "rows": 0, "bytes_in_ram": 0}))
    assert empty.ratio is None


def test_stage_timings_keep_pipeline_order() -> None:
    rows = model.stage_timings(diag())
    assert [(r["stage"], r["ms"], r["order"]) for r in rows] == [
        ("embed", 1.5, 0), ("candidates", 0.8, 1), ("rescore", 0.25, 2)]


def test_gate_verdict() -> None:
    assert model.gate_verdict(diag()) == "confidence 0.970 ≥ threshold 0.900: answer kept"
    low = diag(confidence=0.5, path="FALLBACK_EXACT")
    assert model.gate_verdict(low) == "confidence 0.500 < threshold 0.900: fallback taken"
    assert "not calibrated" in model.gate_verdict(diag(calibrated=False, path="FALLBACK_WIDENED"))
    assert "no gate" in model.gate_verdict(diag(mode="EXACT", path="EXACT"))


def test_documents_from_uploads_use_file_names_as_ids() -> None:
    docs = model.documents_from_uploads([("notes.md", b"# Notes\n\nCodes live in RAM."),
                                         ("dir/plain.txt", b"Floats live on disk."), ("empty.txt", b"  ")])
    by_id = {d.id: d for d in docs}
    assert set(by_id) == {"notes.md", "plain.txt"}  # a file without text is skipped
    assert "Codes live in RAM." in by_id["notes.md"].text
    assert by_id["plain.txt"].metadata["file_name"] == "plain.txt"
    assert by_id["plain.txt"].metadata["file_path"] == "plain.txt"
    with pytest.raises(ValueError, match="same name"):
        model.documents_from_uploads([("a.md", b"x"), ("b/a.md", b"y")])


def test_ingest_uploads_reports_progress_and_is_idempotent(offline_server) -> None:
    name = f"ui_up_{__import__('uuid').uuid4().hex[:8]}"
    files = [(f"f{i}.md", f"Document number {i} is about topic {i}.".encode()) for i in range(3)]
    seen: list[tuple[int, int]] = []
    with bitrag.Client(offline_server.target) as c:
        c.create_collection(name)
        res, n = model.ingest_uploads(c, name, files, lambda done, total: seen.append((done, total)))
        assert n == 3 and res.documents_added == 3 and res.chunks_written == 3
        assert seen == [(1, 3), (2, 3), (3, 3)]
        again, _ = model.ingest_uploads(c, name, files)
        assert again.documents_unchanged == 3 and again.chunks_written == 0
        hit = c.search(name, "topic 2", top_k=1).hits[0]
        assert hit.document_id == "f2.md"


def test_bench_plots(bench_results, tmp_path_factory) -> None:
    plots = model.bench_plots(bench_results)
    assert [(p.path.name, p.title) for p in plots] == [
        ("quality_scifact_minilm_lite_pool4_recall_latency.png", "quality scifact minilm lite pool4")]
    assert model.bench_plots(tmp_path_factory.mktemp("empty") / "missing") == []


def test_bench_dir_default_is_the_repositorys(monkeypatch) -> None:
    monkeypatch.delenv(model.BENCH_DIR_ENV, raising=False)
    assert model.bench_dir().parts[-2:] == ("bench", "results")
    assert (model.bench_dir().parent / "README.md").exists()
    monkeypatch.setenv(model.BENCH_DIR_ENV, "/x/y")
    assert str(model.bench_dir()) == "/x/y"
