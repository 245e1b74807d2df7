"""bitrag._files: real md, txt, html, docx, pptx and pdf files -> one Document each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bitrag import Document, InvalidArgumentError, NotFoundError
from bitrag._files import (
    EXTENSIONS,
    PAGE_BREAK,
    document_id,
    file_ids,
    find_files,
    load_documents,
    nothing_to_ingest,
    read_selected,
    scan,
    scan_to_ingest,
    strip_running_lines,
)
from bitrag._unchanged import select_files
from pdfs import MANUAL_PAGES, tex_pdf


def _make_docx(path: Path, paragraphs: list[str]) -> None:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    d.save(str(path))


def _make_pptx(path: Path, slides: list[tuple[str, str]]) -> None:
    import pptx

    prs = pptx.Presentation()
    for title, body in slides:
        s = prs.slides.add_slide(prs.slide_layouts[1])
        s.shapes.title.text = title
        s.placeholders[1].text = body
    prs.save(str(path))


def _make_pdf(path: Path, pages: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    (root / "notes.md").write_text(
        "# Binary codes\n\nCodes live in RAM.\n\n## Floats\n\nRows live on disk.\n"
    )
    (root / "plain.txt").write_text("Plain text about Hamming distance.\n")
    (root / "page.html").write_text(
        "<!doctype html><html><head><title>Ignored title</title><style>p {color: red}</style></head>"
        "<body><h1>Rescoring</h1><p>Candidates are <b>rescored</b> with float32 rows.</p>"
        '<script>var hidden = "script text";</script></body></html>'
    )
    (root / "sub").mkdir()
    (root / "sub" / "deep").mkdir()
    _make_docx(root / "sub" / "report.docx", ["Word paragraph one about oversampling.", "Second paragraph."])
    slides = [("Slide one title", "First body"), ("Slide two", "Second body")]
    _make_pptx(root / "sub" / "deep" / "slides.pptx", slides)
    _make_pdf(root / "paper.pdf", ["First page about Milvus Lite.", "Second page about recall."])
    (root / "other.htm").write_text("<p>Short htm page.</p>")
    # ignored: unsupported extensions, hidden dirs/files, empty files
    (root / "data.csv").write_text("a,b\n1,2\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "script.py").write_text("print('x')\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.md").write_text("hidden markdown")
    (root / ".dotfile.txt").write_text("hidden text file")
    (root / "empty.txt").write_text("")
    (root / "blank.md").write_text("  \n\n ")
    return root


@pytest.fixture
def in_dir(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(corpus)
    return corpus


EXPECTED_IDS = [
    "notes.md", "other.htm", "page.html", "paper.pdf", "plain.txt", "sub/deep/slides.pptx", "sub/report.docx",
]


def test_find_files(corpus: Path) -> None:
    rel = [p.relative_to(corpus).as_posix() for p in find_files(corpus)]
    assert rel == sorted(EXPECTED_IDS + ["blank.md", "empty.txt"])
    assert find_files(corpus / "plain.txt") == [corpus / "plain.txt"]
    with pytest.raises(NotFoundError) as e:
        find_files(corpus / "missing")
    assert e.value.field == "path" and "no such file or directory" in e.value.message
    assert set(EXTENSIONS) == {".md", ".txt", ".pdf", ".docx", ".pptx", ".html", ".htm"}


def test_scan_counts_skipped_files_by_extension(corpus: Path) -> None:
    found = scan(corpus)
    assert found.root == corpus and len(found.files) == 9
    assert found.skipped == {".csv": 1, ".png": 1, ".py": 1}
    assert found.hidden == 2  # .hidden/secret.md, .dotfile.txt
    assert found.skipped_summary() == "skipped 3 files: .csv 1, .png 1, .py 1; 2 hidden files ignored"
    one = scan(corpus / "image.png")
    assert (one.files, one.skipped, one.skipped_summary()) == ([], {".png": 1}, "skipped 1 file: .png 1")
    assert "no supported files (md, txt, pdf, docx, pptx, html) under" in nothing_to_ingest(one)
    assert scan(corpus / "sub").skipped_summary() == ""


def test_scan_from_a_parent_or_hidden_directory(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # hidden names count below the path only: `../x` and a tree inside ~/.local are read
    monkeypatch.chdir(corpus / "sub")
    assert [d.id for d in load_documents("../sub")] == ["deep/slides.pptx", "report.docx"]
    inside = tmp_path / ".local" / "docs"
    inside.mkdir(parents=True)
    (inside / "a.md").write_text("Alpha.")
    assert [d.id for d in load_documents(inside)] == ["a.md"]


def test_load_documents_one_per_file(in_dir: Path) -> None:
    docs = load_documents(".")
    assert all(isinstance(d, Document) for d in docs)
    assert sorted(d.id for d in docs) == EXPECTED_IDS  # relative ids; ignored/empty files skipped
    by_id = {d.id: d for d in docs}
    for d in docs:
        assert d.metadata["file_path"] == d.id
        assert d.metadata["file_name"] == Path(d.id).name
        volatile = {"creation_date", "last_modified_date", "last_accessed_date", "file_size", "page_label"}
        assert not volatile & set(d.metadata)
        # metadata is flat (it is copied onto every chunk and used in filters)
        assert all(isinstance(v, (str, int, float, bool)) for v in d.metadata.values()), d.metadata

    md = by_id["notes.md"].text
    assert "Codes live in RAM." in md and "Rows live on disk." in md
    assert by_id["plain.txt"].text.strip() == "Plain text about Hamming distance."
    html = by_id["page.html"].text
    assert "Rescoring" in html and "Candidates are" in html and "rescored" in html and "float32 rows" in html
    assert "<p>" not in html and "<b>" not in html and "color: red" not in html and "script text" not in html
    assert "Short htm page." in by_id["other.htm"].text and "<p>" not in by_id["other.htm"].text
    docx_text = by_id["sub/report.docx"].text
    assert "Word paragraph one about oversampling." in docx_text and "Second paragraph." in docx_text
    pptx_text = by_id["sub/deep/slides.pptx"].text
    for s in ("Slide one title", "First body", "Slide two", "Second body"):
        assert s in pptx_text
    assert pptx_text.index("First body") < pptx_text.index("Second body")
    pdf_text = by_id["paper.pdf"].text
    assert "First page about Milvus Lite." in pdf_text and "Second page about recall." in pdf_text
    assert pdf_text.index("First page") < pdf_text.index("Second page")  # pages joined in order
    assert pdf_text.split(PAGE_BREAK) == ["First page about Milvus Lite.", "Second page about recall."]
    assert by_id["paper.pdf"].metadata["file_type"] == "application/pdf"


def test_ids_are_relative_to_the_root_not_the_working_directory(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(corpus)
    a = load_documents(".")
    b = load_documents(corpus)  # absolute path
    monkeypatch.chdir(corpus.parent)
    c = load_documents(corpus.name)  # relative, from the parent
    monkeypatch.chdir(tmp_path)
    d = load_documents(os.path.relpath(corpus / "sub" / ".." , tmp_path))  # through `..`, from elsewhere
    same = [(x.id, x.text, x.metadata) for x in a]
    assert sorted(x.id for x in a) == EXPECTED_IDS
    for other in (b, c, d):
        assert [(x.id, x.text, x.metadata) for x in other] == same
    # a subdirectory is a root of its own
    sub = load_documents(corpus / "sub")
    assert sorted(x.id for x in sub) == ["deep/slides.pptx", "report.docx"]
    assert {x.id: x.text for x in sub} == {x.id.removeprefix("sub/"): x.text for x in a if x.id.startswith("sub/")}


def test_root_and_id_prefix(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sub = load_documents(corpus / "sub", root=corpus, id_prefix="kb:")
    assert sorted(x.id for x in sub) == ["kb:sub/deep/slides.pptx", "kb:sub/report.docx"]
    assert all(x.metadata["file_path"] == x.id for x in sub)
    (one,) = load_documents(corpus / "sub" / "report.docx", root=corpus)
    assert one.id == "sub/report.docx"
    with pytest.raises(InvalidArgumentError) as e:
        load_documents(corpus, root=corpus / "sub")
    assert e.value.field == "root"
    with pytest.raises(InvalidArgumentError) as e:
        scan(corpus, root=corpus / "plain.txt")
    assert e.value.field == "root"


def test_single_file_id_is_its_name(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (d,) = load_documents(corpus / "plain.txt")
    assert d.id == "plain.txt" and d.metadata["file_path"] == "plain.txt"
    monkeypatch.chdir(corpus / "sub")
    (e,) = load_documents("deep/slides.pptx")
    assert e.id == "slides.pptx"


def _to_ingest(path: Path) -> list[Document]:
    """What ingest_files reads (no collection to compare with: every file)."""
    found = scan_to_ingest(path)
    return read_selected(found, select_files(found.files, file_ids(found), None))


def test_empty_or_unsupported_only(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1,2")
    (tmp_path / "e.md").write_text("")
    assert load_documents(tmp_path) == []
    with pytest.raises(InvalidArgumentError, match="has no text") as e:
        _to_ingest(tmp_path)
    assert e.value.field == "path"
    (tmp_path / "e.md").unlink()
    with pytest.raises(InvalidArgumentError, match=r"no supported files .*; skipped 1 file: \.csv 1") as e:
        _to_ingest(tmp_path)
    assert e.value.field == "path"


def test_document_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    assert document_id(Path("a/b.md"), Path(".")) == "a/b.md"
    assert document_id(tmp_path / "a" / "b.md", Path(".")) == "a/b.md"
    assert document_id(Path("./a/../a/b.md"), tmp_path) == "a/b.md"
    assert document_id(Path("a/b.md"), Path("a"), "p/") == "p/b.md"
    with pytest.raises(InvalidArgumentError) as e:
        document_id(Path(os.path.dirname(tmp_path)) / "z.md", tmp_path)
    assert e.value.field == "root"


# ---- PDFs: word spacing, pages, running headers and footers -------------------------------------


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tex_manual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tex_pdf(tmp_path_factory.mktemp("pdf") / "manual.pdf", MANUAL_PAGES, header="Debian Reference")


def test_tex_pdf_fixture_shows_the_glued_words(tex_manual: Path) -> None:
    """The fixture is set as TeX sets it: pypdf (LlamaIndex's default reader) glues its words."""
    import pypdf

    text = pypdf.PdfReader(tex_manual).pages[0].extract_text()
    assert "ADHCPclientconfigurationcanbesetupbycreating" in text


def test_pdf_keeps_word_spaces_and_pages_and_drops_headers(tex_manual: Path) -> None:
    (doc,) = load_documents(tex_manual)
    pages = doc.text.split(PAGE_BREAK)
    assert len(pages) == len(MANUAL_PAGES) == doc.metadata["pages"]
    for got, want in zip(pages, MANUAL_PAGES):
        assert _squash(got) == want  # every word, spaced, on its page; header and "n / 5" footer gone
    assert "page_label" not in doc.metadata


def test_strip_running_lines() -> None:
    words = " ".join(MANUAL_PAGES).split()
    body = [" ".join(words[i * 9:i * 9 + 9]) + "\n" + " ".join(words[i * 9 + 90:i * 9 + 99]) for i in range(8)]
    pages = [  # a running title with "n / N", or a page number with the chapter's title
        f"Debian Reference {i} / 8\n{b}\n{100 + i}" if i % 2 else f"{100 + i} Chapter 3. Networking\n{b}"
        for i, b in enumerate(body, 1)
    ]
    pages[4] = "Chapter 3\nNetworking in depth\n" + body[4]  # a chapter's first page: no running head
    out = strip_running_lines(pages)
    assert out[4] == pages[4]
    assert [o for i, o in enumerate(out) if i != 4] == [b for i, b in enumerate(body) if i != 4]
    # fewer than 4 pages: too few to tell furniture from text
    assert strip_running_lines(pages[:3]) == pages[:3]
    # a line repeated inside the pages, away from their top and bottom, is text
    inside = [f"{b}\nSee the table below.\n{b.upper()}" for b in body]
    assert strip_running_lines(inside) == inside


def test_strip_running_lines_roman_front_matter() -> None:
    """Front matter numbered ii, iii, iv on three pages of eight: fewer than half the pages, but the
    number rises with the page, so it is a page number."""
    words = " ".join(MANUAL_PAGES).split()
    body = [" ".join(words[i * 7:i * 7 + 7]) for i in range(8)]
    pages = [f"{b}\nThe bitrag manual {n}" if n else b for b, n in zip(body, ["", "ii", "iii", "iv"] + [""] * 4)]
    assert strip_running_lines(pages) == body
    # the same line on three pages whose number does not follow the pages is text
    text = [f"{b}\nSee section {n}" if n else b for b, n in zip(body, ["", "4", "9", "2"] + [""] * 4)]
    assert strip_running_lines(text) == text
