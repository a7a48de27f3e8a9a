"""Demo users for the local stack: one of each role, a parent with a child, and the platform's
two coaches of the documentation (Hélios and Zénon) with their subjects and weekly availability,
so a booking works right after `make run`."""

from __future__ import annotations

from datetime import time

from reussite import db
from reussite.identity import service
from reussite.identity.models import Principal, Role, User
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.payments import checkout, wise
from reussite.payments.models import Provider

DEMO_USERS = [
    Principal(sub="demo-admin", email="admin@reussite.local", name="Amel Admin", role=Role.ADMIN),
    Principal(
        sub="demo-assistante",
        email="assistante@reussite.local",
        name="Sonia Assistante",
        role=Role.ASSISTANTE,
    ),
    Principal(sub="demo-coach", email="coach@reussite.local", name="Karim Coach", role=Role.COACH),
    Principal(
        sub="demo-coach-zenon", email="zenon@reussite.local", name="Sami Coach", role=Role.COACH
    ),
    Principal(
        sub="demo-parent", email="parent@reussite.local", name="Leïla Ben Salah", role=Role.PARENT
    ),
    Principal(
        sub="demo-eleve", email="eleve@reussite.local", name="Héloïse Martin", role=Role.ELEVE
    ),
]


# seed 001: "Créer profils coaches initiaux (Hélios, Zénon, etc.)", with their subjects
COACHES = (
    ("demo-coach", "coach@reussite.local", "Hélios", ["MATHEMATIQUES", "NSI"]),
    ("demo-coach-zenon", "zenon@reussite.local", "Zénon", ["PHILOSOPHIE", "FRANCAIS"]),
)
# every day from 08:00 to 20:00 in the school's time zone (a booking "J+3 à 14h" always fits)
WEEK = [{"weekday": d, "starts": time(8), "ends": time(20)} for d in range(1, 8)]


def seed_coaches(staff: User) -> None:
    from reussite.tutoring import workspace

    for sub, email, pseudonym, subjects in COACHES:
        workspace.create_coach(staff, sub, email, pseudonym, subjects, WEEK)


def seed(webhook_url: str | None = None) -> dict[str, str]:
    """Provision the demo users, give the adult learner a credit pack and the parent's child a
    paid subscription, and (with `webhook_url`) register the local receiver for every event;
    return the child's one-time link code."""
    users = {p.sub: service.resolve_user(p) for p in DEMO_USERS}
    webhook_secret = ""
    if webhook_url:
        from reussite.webhooks import TYPES, endpoints

        spec = endpoints.EndpointSpec(url=webhook_url, events=list(TYPES))  # type: ignore[arg-type]
        webhook_secret = endpoints.register(users["demo-admin"], spec, "demo-webhooks").secret or ""
    seed_coaches(users["demo-admin"])
    child = service.create_child(users["demo-parent"], "Yasmine Ben Salah")
    eleve = users["demo-eleve"]
    assert eleve.student_id is not None
    ledger.grant(
        ledger.wallet_of(eleve.student_id), 10, LotKind.PURCHASE, key="demo-pack", purpose="pack"
    )
    # The parent paid the HYBRIDE plan by bank transfer, confirmed by the assistante: a paid
    # subscription, so the family can also ask for an orientation report.
    # Its two ARIA subjects: mathematics and NSI; Yasmine is in 2e année secondaire.
    order = checkout.checkout(
        users["demo-parent"],
        "HYBRIDE",
        child.student_id,
        Provider.WISE,
        "demo-plan",
        ["MATHEMATIQUES", "NSI"],
    )
    db.connection().execute(
        "UPDATE students SET school_level = '2e-secondaire' WHERE id = %s", (child.student_id,)
    )
    wise.confirm_transfer(
        users["demo-assistante"], order.id, "demo-wise-transfer", order.amount_minor, order.currency
    )
    return {
        "child_student_id": str(child.student_id),
        "child_link_code": child.link_code or "",
        "webhook_secret": webhook_secret,
    }
