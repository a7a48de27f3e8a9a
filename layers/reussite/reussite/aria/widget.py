"""The public ARIA widget: a visitor who is not signed in takes the short learner-profile quiz
(three questions), is asked for an email to get a personalised recommendation, and is
recommended the free orientation report. The email becomes a lead tagged "Prospect via Quiz
IA", once per address. Rate-limited per client address (an hourly counter) and per widget
session, both atomic; anything off the quiz's topic is declined."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reussite import audit, db, pagination
from reussite.aria.models import Lead, LeadNotFound, LeadPage, RateLimited, WidgetTurn
from reussite.errors import DomainError
from reussite.identity.access import require_staff
from reussite.settings import get_settings

if TYPE_CHECKING:
    from reussite.identity.models import User

TAG = "Prospect via Quiz IA"
OPENING = "Quel est mon profil d'apprenant ?"
QUESTIONS = (
    "Pour commencer : quand tu découvres une nouvelle leçon, tu retiens mieux en lisant, en "
    "écoutant, en regardant des schémas ou en faisant des exercices ?",
    "Et quand tu révises : plutôt seul(e) ou à plusieurs, et à quel moment de la journée es-tu "
    "le plus efficace ?",
    "Dernière question : quelle matière te motive le plus, et laquelle te demande le plus "
    "d'efforts ?",
)
ASK_EMAIL = (
    "Merci ! Pour te donner une recommandation personnalisée sur ton profil d'apprenant, "
    "laisse-moi ton adresse email."
)
OFF_TOPIC = (
    "Je suis là seulement pour t'aider à découvrir ton profil d'apprenant. Réponds à ma "
    "question et je te donnerai une recommandation personnalisée."
)
# Requests the quiz does not take: instructions to the model, homework, code.
_OFF_TOPIC = re.compile(
    r"\b(ignore|oublie|instructions?|prompt|syst[eè]me|r[ée]sous|calcule|[ée]cris[- ]moi|"
    r"code|programme|devoirs?|traduis|mot de passe)\b",
    re.IGNORECASE,
)
PROFILES = {
    "visuel": ("schéma", "schema", "regard", "image", "vidéo", "video", "carte"),
    "auditif": ("écout", "ecout", "oral", "explique", "podcast"),
    "kinesthésique": ("fais", "faisant", "exercice", "pratique", "manip", "refais"),
    "lecture-écriture": ("lis", "lisant", "lecture", "écri", "ecri", "fiche", "note"),
}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


class InvalidEmail(DomainError):
    code = "INVALID_EMAIL"
    status = 422
    title = "This is not an email address"


class ConsentRequired(DomainError):
    code = "CONSENT_REQUIRED"
    status = 422
    title = "We keep an email only with its owner's consent"


class WidgetSessionNotFound(DomainError):
    code = "WIDGET_SESSION_NOT_FOUND"
    status = 404
    title = "No such widget session; start again"


def _next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _count_client(conn: db.Connection, client: str) -> None:
    """One more message from this address this hour, or 429 until the next hour."""
    now = datetime.now(UTC)
    limit = get_settings().aria_widget_per_client_per_hour
    hour = now.replace(minute=0, second=0, microsecond=0)
    counted = conn.execute(
        """INSERT INTO aria_widget_counters (client, hour, used) VALUES (%(c)s, %(h)s, 1)
           ON CONFLICT (client, hour) DO UPDATE SET used = aria_widget_counters.used + 1
            WHERE aria_widget_counters.used < %(limit)s
           RETURNING used""",
        {"c": client, "h": hour, "limit": limit},
    ).fetchone()
    if counted is None or counted["used"] > limit:
        wait = int((_next_hour(now) - now).total_seconds()) + 1
        raise RateLimited(f"{limit} messages an hour from one address", retry_after=wait)


def talk(client: str, session_id: UUID | None, message: str | None) -> WidgetTurn:
    """One exchange of the quiz: a new session opens with the first question; each answer gets
    the next one; after the last, ARIA asks for an email."""
    exchanges = get_settings().aria_widget_exchanges
    with db.transaction() as conn:
        _count_client(conn, client[:64])
        if session_id is None:
            row = conn.execute(
                "INSERT INTO aria_widget_sessions (client) VALUES (%s) RETURNING id",
                (client[:64],),
            ).fetchone()
            assert row is not None
            return WidgetTurn(
                session_id=row["id"], reply=QUESTIONS[0], asks_email=False, done=False
            )
        session = conn.execute(
            """UPDATE aria_widget_sessions SET messages = messages + 1
                WHERE id = %s RETURNING id, exchanges, messages, lead_id""",
            (session_id,),
        ).fetchone()
        if session is None:
            raise WidgetSessionNotFound()
        limit = get_settings().aria_widget_per_session
        if session["messages"] > limit:
            raise RateLimited(f"{limit} messages in one widget session", retry_after=3600)
        if session["lead_id"] is not None:
            return _recommendation(session_id)
        if session["exchanges"] >= exchanges:
            return WidgetTurn(session_id=session_id, reply=ASK_EMAIL, asks_email=True, done=False)
        if not message or _OFF_TOPIC.search(message):
            return WidgetTurn(session_id=session_id, reply=OFF_TOPIC, asks_email=False, done=False)
        done = session["exchanges"] + 1
        conn.execute(
            """UPDATE aria_widget_sessions SET exchanges = %s,
                      answers = answers || jsonb_build_array(%s::text) WHERE id = %s""",
            (done, message, session_id),
        )
    if done >= exchanges:
        return WidgetTurn(session_id=session_id, reply=ASK_EMAIL, asks_email=True, done=False)
    return WidgetTurn(session_id=session_id, reply=QUESTIONS[done], asks_email=False, done=False)


def profile_of(answers: list[str]) -> str:
    """The learner profile the first answer points to (the most cited way of learning)."""
    first = (answers[0] if answers else "").lower()
    scores = {name: sum(first.count(w) for w in words) for name, words in PROFILES.items()}
    best = max(scores, key=lambda name: scores[name])
    return best if scores[best] else "équilibré"


def capture(client: str, session_id: UUID, email: str, consent: bool) -> WidgetTurn:
    """The visitor's email, kept once per address (a second capture updates it) with their
    consent and the quiz's tag; answered with the free orientation report's recommendation."""
    address = email.strip().lower()
    if len(address) > 320 or not _EMAIL.match(address):
        raise InvalidEmail()
    if not consent:
        raise ConsentRequired()
    with db.transaction() as conn:
        _count_client(conn, client[:64])
        session = conn.execute(
            "SELECT answers FROM aria_widget_sessions WHERE id = %s FOR UPDATE", (session_id,)
        ).fetchone()
        if session is None:
            raise WidgetSessionNotFound()
        profile = profile_of(list(session["answers"]))
        lead = conn.execute(
            """INSERT INTO leads (email, consent, tag, profile, source)
               VALUES (%s, true, %s, %s, 'aria-widget')
               ON CONFLICT (email) DO UPDATE SET consent = true, profile = EXCLUDED.profile,
                      updated_at = now()
               RETURNING id""",
            (address, TAG, profile),
        ).fetchone()
        assert lead is not None
        conn.execute(
            "UPDATE aria_widget_sessions SET lead_id = %s WHERE id = %s", (lead["id"], session_id)
        )
    return _recommendation(session_id, profile)


def _bilan_url() -> str:
    settings = get_settings()
    return settings.free_bilan_url or f"{settings.public_base_url.rstrip('/')}/bilan-gratuit"


def _recommendation(session_id: UUID, profile: str | None = None) -> WidgetTurn:
    seen = f"Ton profil ressemble à celui d'un apprenant **{profile}**. " if profile else ""
    return WidgetTurn(
        session_id=session_id,
        reply=(
            f"{seen}Pour aller plus loin, je te recommande le **Bilan Stratégique Gratuit** : "
            f"un bilan d'orientation personnalisé, offert. {_bilan_url()}"
        ),
        asks_email=False,
        done=True,
        recommendation_url=_bilan_url(),
    )


# -- staff -------------------------------------------------------------------------------------

_LEAD = "id, email, consent, tag, profile, source, created_at, updated_at"


def leads(staff: User, limit: int = 100, cursor: str | None = None) -> LeadPage:
    """The leads, the newest first, a page at a time."""
    require_staff(staff, "Staff read the leads")
    after = pagination.decode("leads", cursor)
    rows = (
        db.connection()
        .execute(
            f"""SELECT {_LEAD} FROM leads
                 WHERE %(at)s::timestamptz IS NULL OR (created_at, id) < (%(at)s, %(id)s)
                 ORDER BY created_at DESC, id DESC LIMIT %(limit)s""",
            {
                "at": after[0] if after else None,
                "id": after[1] if after else None,
                "limit": limit + 1,
            },
        )
        .fetchall()
    )
    items = [Lead.model_validate(r) for r in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return LeadPage(
        items=items, next=pagination.encode("leads", last.created_at, last.id) if last else None
    )


def leads_csv(staff: User) -> str:
    """Every lead as CSV (a spreadsheet opens it); cells that would start a formula are quoted
    with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "consent", "tag", "profile", "source", "created_at"])
    for lead in _every_lead(staff):
        cells: list[Any] = [lead.email, lead.consent, lead.tag, lead.profile or "", lead.source]
        writer.writerow([_safe_cell(str(c)) for c in cells] + [lead.created_at.isoformat()])
    return out.getvalue()


def _every_lead(staff: User) -> list[Lead]:
    found, cursor = [], None
    while True:
        page = leads(staff, limit=1000, cursor=cursor)
        found += page.items
        if page.next is None:
            return found
        cursor = page.next


def _safe_cell(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


def forget(staff: User, lead_id: UUID) -> None:
    """Delete a lead on its owner's request (audited, without the address)."""
    require_staff(staff, "Staff delete leads")
    with db.transaction() as conn:
        gone = conn.execute("DELETE FROM leads WHERE id = %s RETURNING id", (lead_id,)).fetchone()
        if gone is None:
            raise LeadNotFound()
        conn.execute(
            "UPDATE aria_widget_sessions SET lead_id = NULL WHERE lead_id = %s", (lead_id,)
        )
        audit.record(conn, staff.id, "lead.delete", f"lead:{lead_id}")
