"""The certificate PDF (fpdf2): A4 landscape, the Unicode DejaVu Sans font (French accents;
Arabic names shaped: joined and right-to-left), a QR code to the verify page. Imported by the
certificate worker only.

Fonts are subset once per container, not per document: DejaVu Sans (~6,000 glyphs) is cut to a
Latin font (~400 glyphs: accents, punctuation) and an Arabic one (~500: the letters, the
contextual forms HarfBuzz substitutes, basic Latin for mixed names), each embedded whole (~14 KB
compressed) in the documents that use it. fpdf2 would otherwise re-read and re-subset the font
file for every document, four fifths of the render time; it is told to skip that for these
fonts (`_SubsetSkipping`). A line neither covers (Greek, Cyrillic...) falls back to the full
font, subset per document the usual way: slower, never wrong.
"""

from __future__ import annotations

import copy
import io
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import fpdf.output
import segno
from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.syntax import PDFContentStream

from reussite.certificates.branding import Branding


@dataclass(frozen=True)
class CertificateText:
    holder_name: str
    qualification: str
    level: str
    score: int | None  # None unless the holder opted in
    issued_at: datetime
    issuer: str
    code: str
    verify_url: str
    valid_until: datetime | None = None  # the qualification expires


@dataclass(frozen=True)
class _Cut:
    """A font cut from DejaVu Sans: its characters, and whether its script needs shaping."""

    family: str
    unicodes: tuple[int, ...] | None  # None: the whole font, subset per document
    shaped: bool


_LATIN = (
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),
    *range(0x218, 0x21C),  # Romanian s and t with comma
    *range(0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis
    0x2030,
    0x2039,
    0x203A,
    0x20AC,
)
# Arabic letters, harakat, digits and punctuation, and the extra letters of Maghrebi and
# Persian names; the contextual forms come with them through the layout tables (closure).
_ARABIC = (
    *range(0x60C, 0x60E),
    *range(0x61B, 0x620),
    *range(0x621, 0x65F),
    *range(0x660, 0x66E),
    0x670,
    0x671,
    *(0x67E, 0x686, 0x698, 0x6A4, 0x6A8, 0x6A9, 0x6AF, 0x6CC),
)
CUTS = (
    _Cut("Latin", _LATIN, shaped=False),
    _Cut("Arabic", (*range(0x20, 0x7F), 0xA0, *range(0x200C, 0x2010), *_ARABIC), shaped=True),
    _Cut("Full", None, shaped=True),
)
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF")


class _Presubset(ttLib.TTFont):  # type: ignore[misc]
    """A font subset once per container and embedded whole: read once, shared read-only by
    every document, written by copying its bytes."""

    def __init__(self, path: str, glyph_order: list[str]) -> None:
        super().__init__(path, recalcTimestamp=False)
        # The file carries no glyph names (bytes in every PDF): the shaping file's, same order.
        self.setGlyphOrder(glyph_order)
        self.ensureDecompiled()
        self._raw = Path(path).read_bytes()

    def save(self, file: BinaryIO, reorderTables: bool = True) -> None:
        file.write(self._raw)


class _Subsetter(ftsubset.Subsetter):  # type: ignore[misc]
    def subset(self, font: Any) -> None:
        if not isinstance(font, _Presubset):  # other fonts: fpdf2's usual per-document subset
            super().subset(font)


class _SubsetSkipping:
    """fontTools' subset module as fpdf2's writer sees it (fpdf2 2.8.9 subsets each font in
    `OutputProducer._add_fonts` with `ftsubset.Subsetter(...).subset(font.ttfont)`), except that
    fonts already subset once per container are left whole."""

    Options = ftsubset.Options
    Subsetter = _Subsetter


fpdf.output.ftsubset = _SubsetSkipping  # type: ignore[attr-defined]


class _Compressed(PDFContentStream):
    """fpdf2 2.8.9 writes each font's ToUnicode map uncompressed (`PDFContentStream(...)` with
    compress left False: ~1 KB of a two-font document); every stream it creates without saying
    otherwise is compressed here, as PDF allows any stream to be."""

    def __init__(self, contents: bytes | bytearray, compress: bool = True) -> None:
        super().__init__(contents, compress)


fpdf.output.PDFContentStream = _Compressed  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _FontFiles:
    shaping: str  # what fpdf2 measures and HarfBuzz shapes with (layout tables if shaped)
    writing: str  # what goes into the PDF: the same glyphs in the same order, no layout tables


@cache
def _font_files(cut: _Cut) -> _FontFiles:
    """The cut, hinting dropped (screen bytecode: weight in every PDF), glyph names kept (so both
    files name glyphs alike, and nothing rebuilds names from the cmap)."""
    fonts = resources.files("reussite.certificates.fonts")
    source = str(fonts / "DejaVuSans.ttf")
    if cut.unicodes is None:
        return _FontFiles(source, source)
    folder = Path(tempfile.mkdtemp(prefix=f"reussite-fonts-{cut.family.lower()}-"))
    options = ftsubset.Options()
    options.layout_features = ["*"] if cut.shaped else []
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.glyph_names = True
    options.drop_tables += ["FFTM", "MATH"]
    options.hinting = False
    font = ftsubset.load_font(source, options)
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=cut.unicodes)
    subsetter.subset(font)
    shaping = folder / "shaping.ttf"
    ftsubset.save_font(font, str(shaping), options)
    for tag in _LAYOUT_TABLES:  # fpdf2 drops them from what it embeds too
        if tag in font:
            del font[tag]
    font["post"].formatType = 3.0  # no glyph names in what is embedded
    writing = folder / "writing.ttf"
    ftsubset.save_font(font, str(writing), options)
    return _FontFiles(str(shaping), str(writing))


@cache
def _parsed(cut: _Cut) -> tuple[TTFFont, frozenset[int]]:
    """The cut parsed once per container (metrics, glyph ids, the HarfBuzz face), with the
    characters it covers."""
    prototype = FPDF()
    prototype.add_font("DejaVu", "", _font_files(cut).shaping)
    font = prototype.fonts["dejavu"]
    assert isinstance(font, TTFFont)
    covered = frozenset(font.ttfont.getBestCmap())
    if cut.unicodes is not None:
        font.ttfont = _Presubset(_font_files(cut).writing, font.ttfont.getGlyphOrder())
    return font, covered


def prepare() -> None:
    """Cut and parse the fonts every certificate uses (Latin, Arabic) now: at init, where the
    certificate worker's SnapStart snapshot holds them (and the cut files in /tmp with them),
    with Pillow's common image formats, which fpdf2 loads on the first image it embeds (the QR
    code's PNG; ~35 ms from the PDF layer's sources)."""
    from PIL import Image

    for cut in CUTS:
        if cut.unicodes is not None:
            _parsed(cut)
    Image.preinit()


def _use(pdf: FPDF, cut: _Cut) -> None:
    """Make the cut available in this document as its family: shared metrics and glyph ids,
    fresh glyph bookkeeping. The full font is reopened (lazily), as writing subsets it."""
    key = cut.family.lower()
    if key in pdf.fonts:
        return
    font = copy.copy(_parsed(cut)[0])
    font.i = len(pdf.fonts) + 1
    font.fontkey = key
    if cut.unicodes is None:
        font.ttfont = ttLib.TTFont(font.ttffile, recalcTimestamp=False, lazy=True)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[key] = font


def _cut_for(value: str) -> _Cut:
    chars = {ord(char) for char in value}
    return next(cut for cut in CUTS if cut.unicodes is None or chars <= _parsed(cut)[1])


def _line(pdf: FPDF, size: float, value: str, w: float, h: float, align: str = "C") -> None:
    """One line of text in the first cut that has all its characters, shaped if its script
    needs it (Latin text with precomposed accents does not: shaping costs time)."""
    cut = _cut_for(value)
    _use(pdf, cut)
    pdf.set_font(cut.family, "", size)
    pdf.set_text_shaping(cut.shaped and any(ord(char) >= 0x0590 for char in value))
    pdf.cell(w, h, value, align=align, new_x="LMARGIN", new_y="NEXT")


# The logo prints 20 mm tall on white paper: 120 px is 150 dpi. A school's file may be far larger
# (up to the 512 KB branding allows) and transparent; once per container it is fitted, laid on
# white and encoded the smaller way: a 24-colour PNG (flat artwork, most logos) or a JPEG
# (photographic ones, which fpdf2 embeds as they are).
LOGO_MAX_PX = (360, 120)


@cache
def printable_logo(logo: bytes) -> bytes:
    """The logo within LOGO_MAX_PX on a white ground, as the smaller of a PNG and a JPEG."""
    from PIL import Image

    with Image.open(io.BytesIO(logo)) as image:
        image.thumbnail(LOGO_MAX_PX, Image.Resampling.LANCZOS)
        ground = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        ground.paste(rgba, mask=rgba.getchannel("A"))
    flat, photo = io.BytesIO(), io.BytesIO()
    ground.quantize(24).save(flat, format="PNG", optimize=True)
    ground.save(photo, format="JPEG", quality=85, optimize=True)
    return min(flat.getvalue(), photo.getvalue(), key=len)


def render(text: CertificateText, brand: Branding | None = None) -> bytes:
    """The certificate, in the school's colours with its logo and signatory when `brand` has
    them."""
    brand = brand or Branding(school=text.issuer, colour="#1e3c6e", accent="#b8860b")
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("reussite")
    pdf.set_title(f"{text.qualification} - {text.holder_name}")
    pdf.add_page()
    pdf.set_draw_color(*brand.rgb(brand.colour))
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_draw_color(*brand.rgb(brand.accent))
    pdf.set_line_width(0.4)
    pdf.rect(13, 13, 271, 184)
    if brand.logo:
        pdf.image(io.BytesIO(printable_logo(brand.logo)), x=20, y=17, h=20)
    pdf.set_text_color(*brand.rgb(brand.colour))
    pdf.set_y(40)
    _line(pdf, 30, "Certificat de réussite", 0, 14)
    pdf.set_text_color(0, 0, 0)
    _line(pdf, 14, "décerné à", 0, 12)
    _line(pdf, 26, text.holder_name, 0, 16)
    _line(pdf, 16, f"pour avoir réussi : {text.qualification}", 0, 12)
    _line(pdf, 16, f"Niveau {text.level}", 0, 10)
    if text.score is not None:
        _line(pdf, 16, f"Score : {text.score} %", 0, 10)
    if text.valid_until is not None:
        _line(pdf, 12, f"Valable jusqu'au {text.valid_until:%d/%m/%Y}", 0, 8)
    pdf.set_xy(25, 160)
    _line(pdf, 12, f"Délivré le {text.issued_at:%d/%m/%Y} par {text.issuer}", 120, 7, "L")
    pdf.set_x(25)
    _line(pdf, 12, f"Code de vérification : {text.code}", 120, 7, "L")
    pdf.set_x(25)
    _line(pdf, 9, text.verify_url, 120, 6, "L")
    if brand.signatory_name:
        pdf.set_draw_color(*brand.rgb(brand.accent))
        pdf.line(150, 168, 225, 168)
        pdf.set_xy(150, 170)
        _line(pdf, 12, brand.signatory_name, 75, 6)
        if brand.signatory_title:
            pdf.set_x(150)
            _line(pdf, 10, brand.signatory_title, 75, 5)
    qr = io.BytesIO()
    # a fixed mask skips segno's search over all eight (a third of the render time)
    segno.make(text.verify_url, error="m", mask=0).save(qr, kind="png", scale=4, border=1)
    pdf.image(qr, x=235, y=148, w=40)
    return bytes(pdf.output())
