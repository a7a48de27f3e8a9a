"""The certificate PDF (fpdf2): A4 landscape, Unicode DejaVu fonts with text shaping on (French
accents, Arabic names joined and right-to-left), a QR code to the verify page. fpdf2 embeds
only the glyphs used (subset). Imported by the certificate worker only."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

import segno
from fpdf import FPDF


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


@cache
def _font_paths() -> tuple[str, str]:
    fonts = resources.files("reussite.certificates.fonts")
    return str(fonts / "DejaVuSans.ttf"), str(fonts / "DejaVuSans-Bold.ttf")


def render(text: CertificateText) -> bytes:
    regular, bold = _font_paths()
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("reussite")
    pdf.set_title(f"{text.qualification} - {text.holder_name}")
    pdf.add_font("DejaVu", "", regular)
    pdf.add_font("DejaVu", "B", bold)
    pdf.set_text_shaping(True)
    pdf.add_page()
    pdf.set_draw_color(30, 60, 110)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_y(30)
    pdf.set_font("DejaVu", "B", 30)
    pdf.cell(0, 14, "Certificat de réussite", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 14)
    pdf.cell(0, 12, "décerné à", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 26)
    pdf.cell(0, 16, text.holder_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 16)
    pdf.cell(0, 12, f"pour avoir réussi : {text.qualification}", align="C",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(0, 10, f"Niveau {text.level}", align="C", new_x="LMARGIN", new_y="NEXT")
    if text.score is not None:
        pdf.cell(0, 10, f"Score : {text.score} %", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 12)
    pdf.set_xy(25, 160)
    pdf.cell(150, 7, f"Délivré le {text.issued_at:%d/%m/%Y} par {text.issuer}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.set_x(25)
    pdf.cell(150, 7, f"Code de vérification : {text.code}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(25)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(150, 6, text.verify_url)
    qr = io.BytesIO()
    segno.make(text.verify_url, error="m").save(qr, kind="png", scale=4, border=1)
    pdf.image(qr, x=235, y=148, w=40)
    return bytes(pdf.output())
