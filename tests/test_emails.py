"""Every email of the documentation, in every language: rendered from its Jinja2 template (HTML
and text) without error, user text escaped, links absolute; fired by its event to the right
people in their language; the monthly report's figures equal to the ledger's; and an email SES
refused stays in the outbox and is sent later, once. Real PostgreSQL and moto throughout."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reussite import db, outbox
from reussite.emails.monthly import month_reported
from reussite.emails.monthly import run as monthly_run
from reussite.emails.rendering import LANGUAGES, TEMPLATES, render
from reussite.identity import service as identity
from reussite.identity.models import Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.money import format_amount
from reussite.settings import get_settings
from tests import helpers

HOSTILE = '<script>alert("x")</script> Ané & <b>Co</b>'
MOMENT = "2027-03-12T09:00:00+00:00"  # 10:00 in Tunis
CHILD = {
    "name": HOSTILE,
    "granted": 10,
    "used": 3,
    "expired": 2,
    "expiring": 4,
    "balance": 5,
    "exams_taken": 2,
    "exams_passed": 1,
    "certificates": 1,
    "sessions_attended": 3,
    "bilan_status": "COMPLETED",
    "progress": [{"subject": "MATHEMATIQUES", "level": 3, "skills": ["fractions", HOSTILE]}],
}
SESSION = {
    "service": "COURS_EN_LIGNE",
    "service_name": "Cours particulier en ligne",
    "subject": "MATHEMATIQUES",
    "coach": HOSTILE,
    "student": HOSTILE,
    "starts_at": MOMENT,
    "minutes": 60,
    "room_url": "https://meet.jit.si/reussite-room",
    "refunded": True,
    "credits": 1,
}
SAMPLES: dict[str, dict[str, Any]] = {
    "welcome": {"name": HOSTILE, "children": [HOSTILE, "ياسمين"], "link": "/bilan-gratuit"},
    "session_booked": SESSION,
    "session_reminder": SESSION,
    "session_cancelled": SESSION,
    "payment_confirmed": {
        "kind": "pack",
        "product": HOSTILE,
        "reference": "RSS-ABCD-EFGH",
        "student": HOSTILE,
        "credits": 10,
        "subjects": ["NSI"],
        "amount_minor": 150000,
        "currency": "TND",
        "receipt": "R-2027-000042",
        "receipt_link": "http://127.0.0.1:3000/v1/payments/orders/x/receipt/pdf?token=1.a",
    },
    "subscription_activated": {
        "plan": HOSTILE,
        "student": HOSTILE,
        "credits": 10,
        "starts_on": "2027-03-01",
        "ends_on": "2027-04-01",
        "changed": False,
    },
    "renewal_due": {
        "product": HOSTILE,
        "student": HOSTILE,
        "renews_from": "2027-04-01",
        "amount_minor": 179000,
        "currency": "TND",
        "reference": "RSS-ABCD-EFGH",
        "pay_url": None,
        "bank": {"holder": HOSTILE, "iban": "TN59 1000 6035 1835 9847 8831", "bic": ""},
    },
    "subscription_lapsed": {"plan": HOSTILE, "student": HOSTILE, "ended_on": "2027-03-01"},
    "credits_expiring": {
        "days": 30,
        "children": [{"name": HOSTILE, "credits": 4, "first_expiry": MOMENT}],
    },
    "credits_expired": {"month": "2027-02-01", "children": [{"name": HOSTILE, "credits": 2}]},
    "monthly_report": {"name": HOSTILE, "month": "2027-02-01", "children": [CHILD]},
    "certificate_ready": {
        "holder": HOSTILE,
        "qualification": HOSTILE,
        "level": "A2",
        "code": "ABCD-EFGH-JKMN-PQRS",
        "verify_link": "http://127.0.0.1:3000/v1/certificates/ABCD-EFGH-JKMN-PQRS",
        "pdf_link": "http://127.0.0.1:3000/v1/certificates/ABCD-EFGH-JKMN-PQRS/pdf?token=1.a",
    },
    "bilan_ready": {
        "student": HOSTILE,
        "link": "http://127.0.0.1:3000/v1/bilans/x/page?token=1.a",
        "support_url": "mailto:support@reussite.example",
        "sections": [
            {"code": "initial", "excerpt": HOSTILE},
            {"code": "orientation", "excerpt": "Bien."},
        ],
    },
    "bilan_failed": {
        "student": HOSTILE,
        "link": "http://127.0.0.1:3000/v1/bilans/x/page?token=1.a",
        "support_url": "mailto:support@reussite.example",
        "sections": [],
    },
}


def test_every_email_of_the_documentation_has_a_sample() -> None:
    assert set(SAMPLES) == set(TEMPLATES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_email_renders_in_every_language_with_user_text_escaped(
    template: str, language: str
) -> None:
    email = render(template, language, SAMPLES[template])

    assert email.subject and "\n" not in email.subject and "{{" not in email.subject
    assert email.text.strip() and "{{" not in email.text and "None" not in email.text
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in email.html
    assert "<script>" not in email.html and "<b>Co</b>" not in email.html
    assert "&lt;script&gt;" in email.html  # the text is there, as text
    assert HOSTILE in email.text  # plain text is not HTML: nothing to escape
    base = get_settings().public_base_url.rstrip("/")
    hrefs = re.findall(r'href="([^"]*)"', email.html)
    assert hrefs and all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs), hrefs
    assert base in email.html  # the footer at least links the school's site
    for code in ("MATHEMATIQUES", "COURS_EN_LIGNE", "COMPLETED"):
        assert code not in email.text, (template, code)  # shown as human labels


def test_amounts_times_and_labels_read_as_the_family_reads_them() -> None:
    assert format_amount(79000, "TND", "fr") == "79,000 TND"
    assert format_amount(79000, "TND", "en") == "79.000 TND"
    assert format_amount(150000, "EUR", "fr") == "1\u202f500,00 EUR"
    assert format_amount(150000, "EUR", "en") == "1,500.00 EUR"
    booked = {lang: render("session_booked", lang, SESSION) for lang in LANGUAGES}
    assert "le 12/03/2027 à 10:00 (heure de Tunis)" in booked["fr"].text
    assert "on 12/03/2027 at 10:00 (Tunis time)" in booked["en"].text
    assert "بتوقيت تونس" in booked["ar"].text
    assert "Mathématiques" in booked["fr"].text and "Mathematics" in booked["en"].text
    assert "Cours particulier en ligne" in booked["fr"].text
    report = render("monthly_report", "fr", SAMPLES["monthly_report"])
    assert report.subject == "Rapport mensuel - février 2027"
    assert render("monthly_report", "ar", SAMPLES["monthly_report"]).subject.endswith("فيفري 2027")


# -- fired by their events ---------------------------------------------------------------------


def _family(principal: Any, language: str, child: str) -> tuple[Any, Any]:
    parent = principal(Role.PARENT, f"Parent of {child}")
    family = {
        "name": f"Parent of {child}",
        "language": language,
        "children": [{"display_name": child}],
    }
    status, made = helpers.call(
        "identity_api", "POST", "/v1/families", parent, family, str(uuid.uuid4())
    )
    assert status == 201, made
    return identity.resolve_user(parent), uuid.UUID(made["children"][0]["student_id"])


def _mails(local_aws: Any, containing: str, subject: str = "") -> list[dict[str, Any]]:
    return [m for m in helpers.emails(local_aws, containing) if m["subject"].startswith(subject)]


def test_a_plan_paid_tells_the_parent_it_is_active_in_their_language(
    local_aws: Any, database_url: str, principal: Any
) -> None:
    parent, child = _family(principal, "en", "Selim Haddad")

    helpers.pay_plan(parent, child, "HYBRIDE")

    (active,) = _mails(local_aws, "Selim Haddad's Hybride plan is active")
    assert (
        active["to"] == [parent.email]
        and active["subject"] == "Hybride plan active for Selim Haddad"
    )
    (paid,) = _mails(local_aws, "Selim Haddad", "Payment received")
    assert "179.000 TND" in paid["body"] and "/receipt/pdf?token=" in paid["body"]
    assert 'dir="ltr"' in (paid["html"] or "")


def test_a_family_reading_arabic_gets_its_emails_right_to_left(
    local_aws: Any, database_url: str, principal: Any
) -> None:
    parent, child = _family(principal, "ar", "ياسين")

    helpers.pay_plan(parent, child, "ACCES_PLATEFORME")

    mails = [m for m in helpers.emails(local_aws, "ياسين") if parent.email in m["to"]]
    subjects = sorted(m["subject"] for m in mails)
    assert any(s.startswith("تم استلام الدفع") for s in subjects), subjects
    assert any(s.startswith("تم تفعيل اشتراك") for s in subjects), subjects
    assert all('<html lang="ar" dir="rtl">' in (m["html"] or "") for m in mails)
    assert any("79,000 TND" in m["body"] for m in mails)


# -- the monthly report ------------------------------------------------------------------------


def test_the_monthly_report_figures_are_the_ledgers_for_a_month_of_activity(
    local_aws: Any, database_url: str, principal: Any
) -> None:
    parent, child = _family(principal, "fr", f"Inès {uuid.uuid4().hex[:6]}")
    wallet = ledger.wallet_of(child)
    conn = db.connection()
    # This month: a pack, two spends and the refund of one, a promotion that expires; the
    # report is the one the run on the 1st of next month sends.
    tunis = ZoneInfo("Africa/Tunis")
    today = datetime.now(tunis).date()
    month = today.replace(day=1)
    run_at = datetime.combine((month + timedelta(days=32)).replace(day=1), time(6), tunis)
    grant = ledger.grant(wallet, 10, LotKind.PURCHASE, key="pack", purpose="pack")
    ledger.spend(wallet, 3, key="spend-1", purpose="exam")
    ledger.spend(wallet, 2, key="spend-2", purpose="exam")
    ledger.refund(wallet, "spend-1", purpose="cancelled")
    promo = ledger.grant(wallet, 4, LotKind.PROMOTION, key="promo", purpose="promo")
    conn.execute(
        "UPDATE credit_lots SET expires_at = clock_timestamp() WHERE id = %s", (promo.lot_id,)
    )
    from reussite.ledger.jobs import EXPIRY_JOB, expire_due

    mark = db.read_one("SELECT cutoff FROM job_watermarks WHERE job = %s", (EXPIRY_JOB,))
    assert expire_due().credits >= 4
    if mark:  # the expiry job's own watermark is not this test's to move
        conn.execute(
            "UPDATE job_watermarks SET cutoff = %s WHERE job = %s", (mark["cutoff"], EXPIRY_JOB)
        )
    conn.execute(  # the pack is near its end when the report goes out
        "UPDATE credit_lots SET expires_at = %s WHERE id = %s",
        (run_at + timedelta(days=20), grant.lot_id),
    )
    figures = db.read_one(
        """SELECT coalesce(sum(amount) FILTER (WHERE kind = 'GRANT'), 0)::int AS granted,
                  coalesce(-sum(amount) FILTER (WHERE kind IN ('SPEND', 'REFUND')), 0)::int
                      AS used,
                  coalesce(-sum(amount) FILTER (WHERE kind = 'EXPIRE'), 0)::int AS expired
             FROM ledger_entries WHERE wallet_id = %s""",
        (wallet,),
    )
    assert figures == {"granted": 14, "used": 2, "expired": 4}
    balance = db.read_one("SELECT balance FROM wallets WHERE id = %s", (wallet,))
    soon = db.read_one(
        """SELECT sum(remaining)::int AS credits, min(expires_at) AS first FROM credit_lots
            WHERE wallet_id = %s AND remaining > 0 AND expires_at > %s AND expires_at <= %s""",
        (wallet, run_at, run_at + timedelta(days=30)),
    )
    assert balance is not None and soon is not None and soon["credits"] >= 5

    report = monthly_run(now=run_at)
    again = monthly_run(now=run_at)

    assert report.month == month and report.reports >= 1 and again.emails_sent == 0
    name = db.read_one("SELECT display_name FROM students WHERE id = %s", (child,))
    assert name is not None
    child_name = name["display_name"]
    (mail,) = _mails(local_aws, f"\n{child_name}\n", "Rapport mensuel")
    assert mail["to"] == [parent.email]
    assert (
        f"- Crédits : {figures['granted']} reçus, {figures['used']} utilisés, "
        f"{figures['expired']} expirés ; solde {balance['balance']}, "
        f"dont {soon['credits']} expirent dans les 30 jours"
    ) in mail["body"]
    assert "- Examens : 0 passés, 0 réussis ; 0 certificat(s)" in mail["body"]
    assert "Bilan d'orientation : pas encore demandé" in mail["body"]
    (expiring,) = _mails(local_aws, child_name, "Des crédits expirent")
    first = f"{soon['first'].astimezone(tunis):%d/%m/%Y}"
    assert f"{child_name} : {soon['credits']} crédit(s), dès le {first}" in expiring["body"]
    (expired,) = _mails(local_aws, child_name, "Crédits expirés en")
    assert f"{child_name} : {figures['expired']} crédit(s)" in expired["body"]


def test_the_monthly_run_reports_the_previous_month_in_the_schools_time_zone() -> None:
    assert month_reported(date(2027, 3, 1)) == date(2027, 2, 1)
    assert month_reported(date(2027, 1, 1)) == date(2026, 12, 1)


# -- the outbox --------------------------------------------------------------------------------


def test_an_email_ses_refused_stays_in_the_outbox_and_is_sent_later_once(
    local_aws: Any, database_url: str, principal: Any
) -> None:
    ses = local_aws.client("ses")
    sender = get_settings().email_sender
    child = f"Nour {uuid.uuid4().hex[:6]}"
    ses.delete_identity(Identity=sender)  # SES now refuses every email from the school
    try:
        parent, _ = _family(principal, "fr", child)
    finally:
        ses.verify_email_identity(EmailAddress=sender)

    owed = db.read_one(
        "SELECT attempts, last_error, sent_at FROM outbox_emails WHERE key = %s",
        (f"welcome:{parent.id}",),
    )
    assert owed is not None and owed["sent_at"] is None and owed["attempts"] == 1
    assert owed["last_error"] and not _mails(local_aws, child)

    assert outbox.flush() >= 1
    outbox.flush()

    (welcome,) = _mails(local_aws, child)
    assert welcome["to"] == [parent.email] and welcome["subject"].startswith("Bienvenue")
    sent = db.read_one(
        "SELECT attempts, sent_at FROM outbox_emails WHERE key = %s", (f"welcome:{parent.id}",)
    )
    assert sent is not None and sent["sent_at"] is not None and sent["attempts"] == 2


# -- languages at the API edge -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "language", "title"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr", "Tentative introuvable"),
        ("ar", "ar", "المحاولة غير موجودة"),
        ("de-DE, en;q=0.5", "en", "No such attempt"),
        (None, "en", "No such attempt"),
    ],
)
def test_problems_follow_accept_language_with_the_code_unchanged(
    database_url: str, principal: Any, accept: str | None, language: str, title: str
) -> None:
    from reussite_local import functions
    from reussite_local.events import http_api_event
    from reussite_local.tokens import principal_claims

    headers = {"Accept-Language": accept} if accept else None
    event = http_api_event(
        "GET",
        f"/v1/attempts/{uuid.uuid4()}",
        claims=principal_claims(principal(Role.ELEVE)),
        headers=headers,
    )
    result = functions.invoke(helpers.FUNCTIONS["exams_api"], event)

    problem = json.loads(result["body"])
    assert result["statusCode"] == 404 and problem["code"] == "ATTEMPT_NOT_FOUND"
    assert problem["title"] == title and problem["detail"] == title
    assert {k.lower(): v for k, v in result["headers"].items()}["content-language"] == language


def test_every_problem_code_has_its_french_and_arabic_title() -> None:
    import pkgutil
    from importlib import import_module

    import reussite
    from reussite.errors import DomainError
    from reussite.http.messages import TITLES
    from reussite.http.problems import _HTTP_CODES

    for module in pkgutil.walk_packages(reussite.__path__, "reussite."):
        if not module.name.startswith("reussite.migrations"):
            import_module(module.name)

    def codes(cls: type[DomainError]) -> set[str]:
        found = {cls.code} if "code" in vars(cls) else set()
        return found.union(*(codes(sub) for sub in cls.__subclasses__()))

    every = codes(DomainError) | set(_HTTP_CODES.values()) | {"INTERNAL_ERROR", "HTTP_ERROR"}
    missing = sorted(every - set(TITLES))
    assert not missing, missing
    assert all(fr and ar and fr != ar for fr, ar in TITLES.values())


def test_each_owed_email_is_sent_once_by_concurrent_flushes_and_a_dead_claim_lapses(
    local_aws: Any, database_url: str
) -> None:
    import threading

    run = uuid.uuid4().hex[:8]
    keys = [f"outbox-{run}-{n}" for n in range(12)]
    with db.transaction() as conn:
        for n, key in enumerate(keys):
            to = [outbox.Recipient(f"{key}@example.test", "fr")]
            context = {"name": f"Famille {run}-{n}", "children": ["Nour"], "link": "https://x.test"}
            outbox.write(conn, key, to, "welcome", context)
        conn.execute(  # a sender that claimed the last one, then died
            "UPDATE outbox_emails SET claimed_until = now() + interval '2 minutes' WHERE key = %s",
            (keys[-1],),
        )
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def flusher() -> None:
        barrier.wait()
        try:
            counts.append(outbox.flush(keys=keys))
        finally:
            db.release()

    threads = [threading.Thread(target=flusher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def delivered(key: str) -> int:
        return sum(1 for m in helpers.emails(local_aws) if f"{key}@example.test" in str(m))

    assert sum(counts) == 11  # every email but the one a dead sender holds, each by one flush
    assert [delivered(k) for k in keys] == [1] * 11 + [0]
    assert outbox.flush(keys=keys) == 0  # still held: nobody sends it twice meanwhile

    db.connection().execute(  # the dead sender's claim runs out
        "UPDATE outbox_emails SET claimed_until = now() - interval '1 second' WHERE key = %s",
        (keys[-1],),
    )
    with db.counting() as statements:
        assert outbox.flush(keys=keys) == 1
    assert statements.count == 2  # one claim, one mark: no transaction left open, none empty
    assert [delivered(k) for k in keys] == [1] * 12

    with db.transaction(), pytest.raises(RuntimeError, match="inside a transaction"):
        outbox.flush(keys=keys)  # SES is never called with a transaction open


def test_the_workers_compile_their_emails_in_every_language_at_init() -> None:
    """`rendering.prepare` (the payment webhook's, certificate and report workers' init) compiles
    each email in French, English and Arabic, so a SnapStart snapshot holds them compiled, and a
    template missing in one language fails the function's init, not a family's payment."""
    import jinja2

    from reussite.emails import rendering

    rendering.prepare(*rendering.TEMPLATES)
    for html in (False, True):
        cached = {t.name for t in rendering._environment(html=html).cache.values()}  # type: ignore[union-attr]
        assert {f"{lang}/payment_confirmed.j2" for lang in rendering.LANGUAGES} <= cached
    with pytest.raises(jinja2.TemplateNotFound):
        rendering.prepare("no_such_email")
