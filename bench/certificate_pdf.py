"""Certificate PDF rendering, warm, beside naive fpdf2 in the same run.

Ours: `reussite.certificates.pdf.render` (fonts subset once per container and embedded whole,
QR with a fixed mask). Naive: the same page drawn by fpdf2 loading the full DejaVu Sans TTF for
every document and letting segno pick the QR mask. Both with text shaping on, both rendering
the same certificates, a French and an Arabic holder measured apart, then a branded certificate
(colours, signatory and a school logo of 1600x800 px, as a school might upload it; naive embeds
it as given, ours fits it to print size once per container). Targets: median < 40 ms, < 40 KB,
>= 4x faster than naive.

Run: make bench-certificate-pdf   (DOCS to change the count)
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources

import segno
from fpdf import FPDF

from reussite.certificates.branding import Branding
from reussite.certificates.pdf import CertificateText, render

DOCS = int(os.environ.get("DOCS", "40"))
FULL_FONT = str(resources.files("reussite.certificates.fonts") / "DejaVuSans.ttf")


def school_logo(detailed: bool) -> bytes:
    """A logo as a school's designer exports it, 1600x800 with transparency: flat artwork (an
    emblem and the school's name), or a detailed one (fine multicoloured stripes, the worst case
    for compression)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (1600, 800), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    if detailed:
        for x in range(0, 1600, 4):
            colour = (30 + x % 97, 60 + x % 53, 110 + x % 41, 255)
            draw.line([(x, 0), (x, 800)], fill=colour, width=4)
    draw.ellipse([60, 60, 740, 740], fill=(30, 60, 110, 255), outline=(184, 134, 11, 255), width=24)
    draw.polygon([(400, 160), (560, 560), (240, 560)], fill=(184, 134, 11, 255))
    draw.text((800, 260), "RÉUSSITE", fill=(30, 60, 110, 255), font_size=150)
    draw.text((800, 440), "ACADÉMIE", fill=(184, 134, 11, 255), font_size=120)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


LOGOS = {"flat": school_logo(detailed=False), "detailed": school_logo(detailed=True)}


def branding(logo: bytes) -> Branding:
    return Branding(
        school="Réussite Académie",
        colour="#1e3c6e",
        accent="#b8860b",
        signatory_name="Sonia Ben Ammar",
        signatory_title="Directrice pédagogique",
        logo=logo,
        logo_type="image/png",
    )


def branded(logo: bytes) -> tuple[Callable[[CertificateText], bytes], ...]:
    """(ours, naive) drawing the certificate with `logo`: naive embeds the file as given."""
    brand = branding(logo)
    return (lambda text: render(text, brand)), (lambda text: naive(text, logo=logo))


def naive(text: CertificateText, logo: bytes | None = None) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", FULL_FONT)
    pdf.set_text_shaping(True)
    pdf.add_page()
    pdf.rect(10, 10, 277, 190)
    if logo is not None:
        pdf.image(io.BytesIO(logo), x=20, y=17, h=20)
    pdf.set_y(30)
    for size, line in (
        (30, "Certificat de réussite"),
        (14, "décerné à"),
        (26, text.holder_name),
        (16, f"pour avoir réussi : {text.qualification}"),
        (16, f"Niveau {text.level}"),
    ):
        pdf.set_font("DejaVu", "", size)
        pdf.cell(0, 14, line, align="C", new_x="LMARGIN", new_y="NEXT")
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
    pdf.cell(150, 6, text.verify_url)
    qr = io.BytesIO()
    segno.make(text.verify_url, error="m").save(qr, kind="png", scale=4, border=1)
    pdf.image(qr, x=235, y=148, w=40)
    return bytes(pdf.output())


def timed(make: Callable[[CertificateText], bytes], text: CertificateText) -> tuple[float, int]:
    """Median milliseconds and size of DOCS documents for one holder, after a warm-up."""
    make(text)  # warm: imports, the once-per-container font subsets
    times, size = [], 0
    for _ in range(DOCS):
        t0 = time.perf_counter()
        size = max(size, len(make(text)))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), size


def main() -> int:
    url = "https://reussite.example/v1/certificates/4FY8-DXNX-23ZQ-W5G2"
    holders = {"French name": "Héloïse Château-Lefèvre", "Arabic name": "ياسمين بن صالح"}
    print(f"certificate PDF, warm, median of {DOCS} documents per holder, ours then naive")
    print("(naive: fpdf2 parsing and subsetting the full font for every document)")
    print("targets: < 40 ms, < 40 KB, >= 4x faster than naive")
    sizes = ", ".join(f"{kind} {len(logo) / 1000:.0f} KB" for kind, logo in LOGOS.items())
    print(f"branded: colours, a signatory and a 1600x800 PNG logo ({sizes})")
    ok = True
    cases = [(label, name, render, naive) for label, name in holders.items()]
    for label, name, kind in (
        ("French, flat logo", holders["French name"], "flat"),
        ("Arabic, flat logo", holders["Arabic name"], "flat"),
        ("French, detailed logo", holders["French name"], "detailed"),
    ):
        cases.append((label, name, *branded(LOGOS[kind])))
    for label, name, ours, baseline in cases:
        text = CertificateText(
            name,
            "Wine Level 3 (WSET-style): theory and tasting",
            "L3",
            78,
            datetime.now(UTC),
            "reussite",
            "4FY8-DXNX-23ZQ-W5G2",
            url,
        )
        ours_ms, ours_size = timed(ours, text)
        base_ms, base_size = timed(baseline, text)
        speedup = base_ms / ours_ms
        good = ours_ms < 40 and ours_size < 40_000 and speedup >= 4
        ok = ok and good
        print(
            f"  {label:21} ours {ours_ms:5.1f} ms {ours_size / 1000:5.1f} KB"
            f" | naive {base_ms:5.1f} ms {base_size / 1000:5.1f} KB"
            f" | {speedup:4.1f}x  {'ok' if good else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
