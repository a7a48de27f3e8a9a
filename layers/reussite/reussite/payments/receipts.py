"""Receipts: every paid order has one, numbered per year with no gap and no duplicate.

The number is taken in the transaction that records the payment (`take_number`), from the
year's counter row: its lock orders concurrent payments and a payment that rolls back gives its
number back. The PDF (fpdf2, imported only here) is rendered on the first request, outside any
transaction, stored in the private bucket, and handed out as a short-lived link.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from reussite import db
from reussite.errors import NotFound
from reussite.settings import get_settings

PRESIGNED_SECONDS = 300


class ReceiptNotFound(NotFound):
    code = "RECEIPT_NOT_FOUND"
    title = "This order has no receipt: it is not paid"


@dataclass(frozen=True)
class Receipt:
    number: str  # R-2027-000042
    issued_at: datetime
    url: str  # the PDF, for a few minutes


def take_number(conn: db.Connection, order_id: UUID) -> str:
    """Inside the payment's transaction: the order's receipt and its number, once."""
    row = conn.execute(
        """WITH n AS (
               INSERT INTO receipt_counters (year, last)
               VALUES (extract(year FROM now())::int, 1)
               ON CONFLICT (year) DO UPDATE SET last = receipt_counters.last + 1
               RETURNING year, last
           )
           INSERT INTO receipts (order_id, year, number) SELECT %s, year, last FROM n
           RETURNING year, number""",
        (order_id,),
    ).fetchone()
    assert row is not None
    return format_number(row["year"], row["number"])


def format_number(year: int, number: int) -> str:
    return f"R-{year}-{number:06d}"


def link(order: dict[str, Any]) -> Receipt:
    """The paid order's receipt, its PDF rendered and stored on the first call."""
    from reussite.notifications import s3

    row = db.read_one(
        """SELECT r.year, r.number, r.issued_at, r.pdf_key, o.reference, o.amount_minor,
                  o.currency, o.provider, o.transfer_id, o.provider_ref, pr.name AS product,
                  p.starts_on, p.ends_on, u.name AS buyer, u.email, st.display_name AS student
             FROM receipts r
             JOIN orders o ON o.id = r.order_id
             JOIN products pr ON pr.code = o.product_code
             JOIN users u ON u.id = o.buyer_id
             JOIN students st ON st.id = o.student_id
             LEFT JOIN subscription_periods p ON p.order_id = o.id
            WHERE r.order_id = %s""",
        (order["id"],),
    )
    if row is None:
        raise ReceiptNotFound()
    bucket = get_settings().certificates_bucket
    if not bucket:
        raise RuntimeError("CERTIFICATES_BUCKET must be set to store receipts")
    number = format_number(row["year"], row["number"])
    key = row["pdf_key"] or f"receipts/{row['year']}/{number}.pdf"
    if row["pdf_key"] is None:
        s3().put_object(
            Bucket=bucket, Key=key, Body=render(number, row), ContentType="application/pdf"
        )
        db.connection().execute(
            "UPDATE receipts SET pdf_key = %s WHERE order_id = %s", (key, order["id"])
        )
    url = s3().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGNED_SECONDS
    )
    return Receipt(number=number, issued_at=row["issued_at"], url=url)


def render(number: str, r: dict[str, Any]) -> bytes:
    """An A4 receipt: the school, the buyer and student, what was paid for (and the period of a
    plan), the amount in the currency's minor unit, the provider and its reference."""
    from importlib import resources

    from fpdf import FPDF

    from reussite.payments.orders import format_amount

    settings = get_settings()
    pdf = FPDF(format="A4")
    pdf.set_title(f"Receipt {number}")
    font = resources.files("reussite.certificates.fonts") / "DejaVuSans.ttf"
    with resources.as_file(font) as path:
        pdf.add_font("DejaVu", fname=str(path))
    pdf.add_page()
    pdf.set_font("DejaVu", size=16)
    pdf.cell(0, 10, settings.issuer_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    for line in settings.school_address.split("\n"):
        if line.strip():
            pdf.cell(0, 5, line.strip(), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("DejaVu", size=14)
    pdf.cell(0, 8, f"Reçu / Receipt {number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=11)
    paid_by = r["transfer_id"] if r["provider"] == "WISE" else r["provider_ref"]
    lines = [
        ("Date", f"{r['issued_at']:%d/%m/%Y}"),
        ("Client / Buyer", f"{r['buyer']} <{r['email']}>"),
        ("Élève / Student", r["student"]),
        ("Produit / Product", r["product"]),
    ]
    if r["starts_on"]:
        last_day = r["ends_on"] - timedelta(days=1)  # the period's end is exclusive
        lines.append(("Période / Period", f"{r['starts_on']:%d/%m/%Y} - {last_day:%d/%m/%Y}"))
    lines += [
        ("Montant / Amount", format_amount(r["amount_minor"], r["currency"])),
        ("Paiement / Paid with", f"{r['provider'].title()} {paid_by or ''}".strip()),
        ("Commande / Order", r["reference"]),
    ]
    for label, value in lines:
        pdf.cell(55, 8, label)
        pdf.cell(0, 8, str(value), new_x="LMARGIN", new_y="NEXT")
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()
