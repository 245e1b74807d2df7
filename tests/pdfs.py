"""PDFs made in the test the way TeX makes them (dvipdfmx, as in Debian's manuals): justified lines
whose word gaps are kerning offsets of `TJ` arrays, with no space glyphs, in an Identity-H font
subset whose code 0x20 is not a space. That is what pypdf glues together
("ADHCPclientconfiguration..."), while poppler and pdfium space the words by their positions.

fpdf2 lays the pages out (justified `multi_cell` in DejaVu Serif, a running header and a
"n / N" footer); pypdf then re-sets each text operator: every space glyph becomes a `TJ` offset of
the space's width, and the width the font gives code 0x20 becomes an em's, as for the glyph a TeX
subset keeps at that code."""

from __future__ import annotations

import io
import os
from pathlib import Path

# A manual of justified paragraphs, one per page, each on a subject of its own (a search finds its page).
MANUAL_PAGES = [
    ("A DHCP client configuration can be set up by creating a network file in the systemd network "
     "directory. The file names the interface and asks for an address lease from the local server, "
     "which then also hands out the gateway and the name servers of the segment."),
    ("The firewall is configured with nftables rulesets that are loaded at boot. Each table holds "
     "chains of rules, and every chain is attached to a netfilter hook with a priority that orders "
     "it against the other chains registered on the same hook."),
    ("Kernel modules are loaded on demand by udev when a device appears. Options for a module are "
     "written to a file under the modprobe configuration directory, and a module that must never load "
     "is blacklisted there by its name."),
    ("Backups of the home directories are made every night with rsync to an external disk that is "
     "mounted only for the copy. Hard links keep unchanged files from taking space twice, so a week "
     "of snapshots costs little more than one."),
    ("Printing goes through CUPS, which keeps a queue for each printer and converts documents with "
     "filters before they reach the device. The web interface on the local port adds printers and "
     "shows the jobs that are waiting."),
]

SPACE = b"\x00\x20"  # fpdf2 keeps the space at CID 32 of its Identity-H subsets


def _font() -> str:
    import matplotlib  # the dev extra has it; it ships DejaVu fonts

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSerif.ttf")


def tex_pdf(path: Path, pages: list[str], *, header: str = "The bitrag manual") -> Path:
    """Write `pages` (one string each, set justified) as a TeX-like PDF at `path`."""
    from fpdf import FPDF

    class Book(FPDF):
        def header(self) -> None:
            self.set_font("serif", size=9)
            self.cell(0, 8, header, align="C")
            self.ln(14)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("serif", size=9)
            self.cell(0, 8, f"{self.page_no()} / {{nb}}", align="C")

    pdf = Book()
    pdf.add_font("serif", "", _font())
    for text in pages:
        pdf.add_page()
        pdf.set_font("serif", size=11)
        pdf.multi_cell(0, 6, text, align="J")
    path.write_bytes(_tex_spacing(bytes(pdf.output())))
    return path


def _glyph_runs(data: bytes, space_width: float) -> list:
    """A shown string -> [string, -space_width, string, ...]: its space glyphs as offsets."""
    from pypdf.generic import ByteStringObject, FloatObject

    out: list = []
    run = b""
    for k in range(0, len(data), 2):
        glyph = data[k:k + 2]
        if glyph == SPACE:
            if run:
                out.append(ByteStringObject(run))
                run = b""
            out.append(FloatObject(-space_width))
        else:
            run += glyph
    if run:
        out.append(ByteStringObject(run))
    return out


def _widths(w: list) -> dict[int, float]:
    """A CID font's /W array (`first [w1 w2 ...]` and `first last w` entries) -> {cid: width}."""
    out: dict[int, float] = {}
    i = 0
    while i < len(w):
        if isinstance(w[i + 1], list):
            out.update((int(w[i]) + k, float(x)) for k, x in enumerate(w[i + 1]))
            i += 2
        else:
            out.update((cid, float(w[i + 2])) for cid in range(int(w[i]), int(w[i + 1]) + 1))
            i += 3
    return out


def _tex_spacing(raw: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, ContentStream, FloatObject, NameObject, NumberObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    space_widths: dict[int, float] = {}  # font object -> its space's width
    for page in writer.pages:
        for ref in page["/Resources"]["/Font"].values():  # fpdf2: one font object for every page
            cid_font = ref.get_object()["/DescendantFonts"][0].get_object()
            if ref.idnum not in space_widths:
                widths = _widths(cid_font["/W"])
                space_widths[ref.idnum] = widths.pop(32)
                widths[32] = 1000  # code 0x20: an em-wide glyph, not the space
                cid_font[NameObject("/W")] = ArrayObject(
                    x for cid, w in sorted(widths.items()) for x in (NumberObject(cid), ArrayObject([FloatObject(w)]))
                )
        space_width = next(iter(space_widths.values()))
        content = ContentStream(page.get_contents(), writer)
        ops = []
        for operands, op in content.operations:
            if op not in (b"TJ", b"Tj"):
                ops.append((operands, op))
                continue
            items: list = []
            for item in operands[0] if op == b"TJ" else [operands[0]]:
                if isinstance(item, (int, float)):
                    items.append(FloatObject(item))
                else:
                    data = item.original_bytes if hasattr(item, "original_bytes") else bytes(item)
                    items.extend(_glyph_runs(data, space_width))
            merged: list = []
            for x in items:  # adjacent offsets add up
                if merged and isinstance(x, FloatObject) and isinstance(merged[-1], FloatObject):
                    merged[-1] = FloatObject(merged[-1] + x)
                else:
                    merged.append(x)
            ops.append(([ArrayObject(merged)], b"TJ"))
        content.operations = ops
        page.replace_contents(content)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
