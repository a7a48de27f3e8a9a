"""The certificate PDF (fpdf2): A4 landscape, the Unicode DejaVu Sans font (French accents;
Arabic names shaped: joined and right-to-left), a QR code to the verify page. fpdf2 embeds only
the glyphs used (subset). The font is subset to the needed scripts and parsed once per
container, not per document. Imported by the certificate worker only."""

from __future__ import annotations

import copy
import io
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path

import segno
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont


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


# The scripts a certificate may need: Latin with its accents, punctuation, Arabic (with its
# presentation forms and the shaping tables kept). DejaVu Sans holds ~6,000 glyphs; these ~900.
UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),
    *range(0x2000, 0x2070),
    0x20AC,
    *range(0x600, 0x700),
    *range(0x750, 0x780),
    *range(0xFB50, 0xFE00),
    *range(0xFE70, 0xFF00),
]


@cache
def _font_path() -> str:
    """DejaVu Sans subset once per container to the scripts certificates use, so each document
    parses and subsets a font a sixth the size (one face: sizes make the hierarchy)."""
    from fontTools import subset

    fonts = resources.files("reussite.certificates.fonts")
    folder = Path(tempfile.mkdtemp(prefix="reussite-fonts-"))
    options = subset.Options()
    options.layout_features = ["*"]  # keep Arabic joining and ligatures
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["FFTM"]
    options.hinting = False  # screen-hinting bytecode: weight in every PDF, slow to compile
    font = subset.load_font(str(fonts / "DejaVuSans.ttf"), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=UNICODES)
    subsetter.subset(font)
    path = folder / "DejaVuSans.ttf"
    subset.save_font(font, str(path), options)
    return str(path)


@cache
def _parsed_font() -> TTFFont:
    """The font parsed once per container (metrics, glyph ids, the HarfBuzz face)."""
    prototype = FPDF()
    prototype.add_font("DejaVu", "", _font_path())
    font = prototype.fonts["dejavu"]
    assert isinstance(font, TTFFont)
    return font


def _font_for_new_document() -> TTFFont:
    """The parsed font for one more document: metrics, glyph ids and the shaping face are shared
    (read-only); the document's glyph bookkeeping is fresh, and the fontTools object is reopened
    (lazily) because writing the document subsets it in place."""
    font = copy.copy(_parsed_font())
    font.ttfont = ttLib.TTFont(font.ttffile, recalcTimestamp=False, lazy=True)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    return font


def _needs_shaping(value: str) -> bool:
    return any(ord(char) >= 0x0590 for char in value)  # Hebrew, Arabic and beyond


def render(text: CertificateText) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("reussite")
    pdf.set_title(f"{text.qualification} - {text.holder_name}")
    pdf.fonts["dejavu"] = _font_for_new_document()
    pdf.add_page()
    pdf.set_draw_color(30, 60, 110)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_y(30)
    pdf.set_font("DejaVu", "", 30)
    pdf.cell(0, 14, "Certificat de réussite", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 14)
    pdf.cell(0, 12, "décerné à", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 26)
    # Shaping (HarfBuzz: joining, right-to-left) where a script needs it; Latin text with its
    # precomposed accents does not, and shaping every line would double the render time.
    pdf.set_text_shaping(_needs_shaping(text.holder_name))
    pdf.cell(0, 16, text.holder_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_shaping(False)
    pdf.set_font("DejaVu", "", 16)
    pdf.cell(
        0, 12, f"pour avoir réussi : {text.qualification}", align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.cell(0, 10, f"Niveau {text.level}", align="C", new_x="LMARGIN", new_y="NEXT")
    if text.score is not None:
        pdf.cell(0, 10, f"Score : {text.score} %", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 12)
    pdf.set_xy(25, 160)
    pdf.cell(
        150,
        7,
        f"Délivré le {text.issued_at:%d/%m/%Y} par {text.issuer}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_x(25)
    pdf.cell(150, 7, f"Code de vérification : {text.code}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(25)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(150, 6, text.verify_url)
    qr = io.BytesIO()
    # a fixed mask skips segno's search over all eight (a third of the render time)
    segno.make(text.verify_url, error="m", mask=0).save(qr, kind="png", scale=4, border=1)
    pdf.image(qr, x=235, y=148, w=40)
    return bytes(pdf.output())
