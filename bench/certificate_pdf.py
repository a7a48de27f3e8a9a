"""Certificate PDF rendering, warm, beside naive fpdf2 in the same run.

Ours: `reussite.certificates.pdf.render` (font subset to the needed scripts once per container,
QR with a fixed mask). Naive: the same page drawn by fpdf2 loading the full DejaVu Sans TTF for
every document and letting segno pick the QR mask. Both with text shaping on, both rendering
the same certificates (a French and an Arabic holder). Targets: median < 40 ms, < 40 KB,
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

from reussite.certificates.pdf import CertificateText, render

DOCS = int(os.environ.get("DOCS", "40"))
FULL_FONT = str(resources.files("reussite.certificates.fonts") / "DejaVuSans.ttf")


def naive(text: CertificateText) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", FULL_FONT)
    pdf.set_text_shaping(True)
    pdf.add_page()
    pdf.rect(10, 10, 277, 190)
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


def timed(
    make: Callable[[CertificateText], bytes], texts: list[CertificateText]
) -> tuple[list[float], int]:
    make(texts[0])  # warm: imports, the once-per-container font subset
    times, size = [], 0
    for i in range(DOCS):
        t0 = time.perf_counter()
        size = max(size, len(make(texts[i % len(texts)])))
        times.append((time.perf_counter() - t0) * 1000)
    return times, size


def main() -> int:
    url = "https://reussite.example/v1/certificates/4FY8-DXNX-23ZQ-W5G2"
    texts = [
        CertificateText(
            name,
            "Wine Level 3 (WSET-style): theory and tasting",
            "L3",
            78,
            datetime.now(UTC),
            "reussite",
            "4FY8-DXNX-23ZQ-W5G2",
            url,
        )
        for name in ("Héloïse Château-Lefèvre", "ياسمين بن صالح")
    ]
    ours, ours_size = timed(render, texts)
    base, base_size = timed(naive, texts)
    ours_ms, base_ms = statistics.median(ours), statistics.median(base)
    speedup = base_ms / ours_ms
    print(f"certificate PDF, warm, median of {DOCS} documents")
    print(f"    ours:  {ours_ms:6.1f} ms, {ours_size / 1000:5.1f} KB  (targets < 40 ms, < 40 KB)")
    print(
        f"    naive: {base_ms:6.1f} ms, {base_size / 1000:5.1f} KB  (full font parsed per document)"
    )
    print(f"    speed-up: {speedup:.1f}x  (target >= 4x: {'ok' if speedup >= 4 else 'UNDER'})")
    return 0 if ours_ms < 40 and ours_size < 40_000 and speedup >= 4 else 1


if __name__ == "__main__":
    sys.exit(main())
