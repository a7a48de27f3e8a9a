"""The authorization matrix: every operation of the merged OpenAPI document by every kind of
caller, through the local gateway (JWT checked, routed as API Gateway does). No family reads or
writes another family's resources; staff-only operations refuse everyone else.

Expected outcomes: a status (401, 403, 404, 200) or ALLOW — the caller got past access control
(a 2xx, or a domain answer such as 409 or 422 about the resource's state).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from reussite import db
from reussite.aria import chat as aria_chat
from reussite.aria import content as aria_content
from reussite.aria import widget as aria_widget
from reussite.aria.tutor import OfflineTutor
from reussite.bilans import service as bilans
from reussite.exam_sessions import enquiries, registrations, results, scheduling
from reussite.exams import service as exams
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role, User
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite.offers import service as offers
from reussite.payments import checkout, wise
from reussite.payments.models import Provider
from reussite.tutoring import service as tutoring
from reussite_local import template
from reussite_local.gateway import Gateway
from reussite_local.tokens import make_token
from tests import helpers

ALLOW = "ALLOW"
MATRIX_EXAM = {
    "course": "language",
    "language": "fr",
    "level": "A1",
    "title": "Matrice",
    "duration_minutes": 10,
    "passing_score": 50,
    "credit_cost": 1,
    "components": [
        {"key": "all", "name": "Tout", "pass_mark": 50, "sources": [{"pool": "MATRIX", "count": 1}]}
    ],
}
ROLES = (
    "anonymous",
    "student",
    "other_student",
    "parent",
    "other_parent",
    "coach",
    "assistante",
    "admin",
)
QUESTIONNAIRE = {
    "age": 15,
    "school_level": "1ere-secondaire",
    "favourite_subjects": ["maths"],
    "interests": ["sciences"],
    "learning_style": "visuel",
    "weekly_study_hours": 8,
    "motivation": 3,
    "stress": 3,
}


class World:
    """Two families, a coach and staff; family A's student owns one of everything."""

    def __init__(self, principal: Any) -> None:
        self.who: dict[str, Principal] = {
            "student": principal(Role.ELEVE, "Sami A"),
            "other_student": principal(Role.ELEVE, "Nour B"),
            "parent": principal(Role.PARENT, "Parent A"),
            "other_parent": principal(Role.PARENT, "Parent B"),
            "coach": principal(Role.COACH, "Coach C"),
            "assistante": principal(Role.ASSISTANTE, "Assistante"),
            "admin": principal(Role.ADMIN, "Admin"),
        }
        users = {k: identity.resolve_user(p) for k, p in self.who.items()}
        child = identity.create_child(users["parent"], "Sami A")
        assert child.link_code is not None
        identity.link_own_login(users["student"], child.link_code)
        self.users: dict[str, User] = {k: identity.resolve_user(p) for k, p in self.who.items()}
        student, other = self.users["student"], self.users["other_student"]
        assert student.student_id == child.student_id and other.student_id
        self.student_id = child.student_id
        self.other_family_parent = identity.create_child(users["other_parent"], "Lina B")
        for sid in (self.student_id, other.student_id):
            ledger.grant(ledger.wallet_of(sid), 40, LotKind.PURCHASE, key="w", purpose="pack")
        staff = self.users["assistante"]
        started = exams.start(student, "FR-A1", str(uuid.uuid4()))
        self.attempt, self.attempt_token = started.id, started.attempt_token
        self.order = checkout.checkout(
            self.users["parent"], "PACK_5", self.student_id, Provider.WISE, str(uuid.uuid4())
        ).id
        plan = checkout.checkout(
            self.users["parent"], "HYBRIDE", self.student_id, Provider.WISE, str(uuid.uuid4())
        )
        wise.confirm_transfer(staff, plan.id, f"t-{plan.id}", plan.amount_minor, "TND")
        self.paid_order = plan.id
        subscriptions = offers.subscriptions_of(self.users["parent"], self.student_id)
        self.subscription = subscriptions.items[0].id
        self.bilan = bilans.request(
            self.users["parent"], self.student_id, QUESTIONNAIRE, str(uuid.uuid4())
        ).id
        starts = datetime.now(UTC) + timedelta(days=20)
        self.session = scheduling.create_session(
            staff,
            "WINE-L2",
            "STANDALONE",
            starts,
            starts - timedelta(days=1),
            20,
            "Tunis",
            False,
            None,
        ).id
        seat = registrations.register(student, self.session, None, str(uuid.uuid4()), "WISE")
        assert seat.order is not None
        helpers.confirm_transfer(staff, seat.order)
        self.registration = seat.id
        helpers.session_took_place(self.session)
        results.enter_results(staff, self.registration, {"COMBINED": 58}, absent=False)
        asked = enquiries.request_enquiry(
            student, self.registration, "THEORY", "Ma note semble basse", str(uuid.uuid4()), "WISE"
        )
        assert asked.order is not None
        helpers.confirm_transfer(staff, asked.order)
        enquiries.review_enquiry(staff, asked.id)
        enquiries.decide_enquiry(staff, asked.id, "UPHELD", {"COMBINED": 70}, None)
        self.enquiry = asked.id  # upheld, paid in money: a refund for staff to make
        refund = db.read_one("SELECT id FROM money_refunds WHERE order_id = %s", (asked.order.id,))
        assert refund is not None
        self.refund = refund["id"]
        self.offering = scheduling.create_offering(staff, "WINE-L1", "Cohorte").id
        day = (datetime.now(UTC) + timedelta(days=30)).date()
        self.course = scheduling.schedule_course(
            staff, self.offering, day, day, 10, "Tunis", False, None, time(14)
        ).id
        coach = self.users["coach"]
        tutoring.save_coach(
            staff,
            coach.id,
            ["maths"],
            [{"weekday": d, "starts": "00:00", "ends": "23:59"} for d in range(1, 8)],
        )
        slot = (datetime.now(UTC) + timedelta(days=5)).replace(hour=9, minute=0, second=0)
        booked = tutoring.book(
            student, coach.id, "COURS_EN_LIGNE", "maths", slot, None, str(uuid.uuid4())
        )
        self.booking, self.tutoring_session = booked.id, booked.session_id
        self.slot = slot + timedelta(hours=3)
        offers.choose_aria_subjects(self.users["parent"], self.subscription, ["NSI"])
        self.conversation = aria_chat.start(student, "NSI", None, "2e-secondaire").id
        said = aria_chat.send(OfflineTutor(), student, self.conversation, "Le tri", "aria-w")
        self.aria_answer = said.reply.id
        self.content = aria_content.create(staff, "NSI", "bac", "Les graphes", "Un graphe...").id
        self.widget_session = aria_widget.talk("matrix", None, None).session_id
        aria_widget.capture("matrix", self.widget_session, "matrix@example.test", True)
        self.lead = aria_widget.leads(staff).items[0].id

    def token(self, role: str) -> str | None:
        if role == "anonymous":
            return None
        p = self.who[role]
        return make_token(p.sub, p.role.value, p.email, p.name)


def matrix(w: World) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(method, path, body, expected by role): `default` for the roles not named."""
    s, other = str(w.student_id), str(w.users["other_student"].student_id)
    family_a = {"student": ALLOW, "parent": ALLOW}
    strangers = {"other_student": 404, "other_parent": 404}
    staff_only = {"assistante": ALLOW, "admin": ALLOW, "default": 403}
    history = family_a | strangers | {"coach": 403, "assistante": ALLOW, "admin": ALLOW}
    signed_in = {"default": ALLOW}
    nobody_s = {"default": 404}  # a signed-in caller's, for a code nobody holds
    staff = {"assistante": ALLOW, "admin": ALLOW, "coach": 404}
    payer = {"parent": ALLOW, "default": 404}  # a parent paid family A's plan
    staff_reads = {"assistante": ALLOW, "admin": ALLOW, "coach": 403}
    staff_reads_only = {"assistante": ALLOW, "admin": ALLOW, "default": 404}
    booking = {
        "coach_id": str(w.users["coach"].id),
        "service_code": "COURS_EN_LIGNE",
        "subject": "maths",
        "starts_at": w.slot.isoformat(),
        "student_id": s,
    }
    return [
        ("GET", "/v1/health", None, {"anonymous": 200, "default": 200}),
        ("GET", "/v1/me", None, signed_in),
        (
            "POST",
            "/v1/students",
            {"display_name": "X"},
            {"parent": ALLOW, "other_parent": ALLOW, "default": 403},
        ),
        (
            "POST",
            "/v1/students/link",
            {"code": "AAAA-BBBB-CCCC"},
            {"student": 404, "other_student": 404, "default": 403},
        ),
        (
            "POST",
            "/v1/families",
            {"name": "Parent Matrice", "children": [{"display_name": "Enfant Matrice"}]},
            {"parent": ALLOW, "other_parent": ALLOW, "default": 403},
        ),
        ("POST", "/v1/me/profile", {"language": "fr"}, signed_in),
        (
            "POST",
            f"/v1/students/{s}/profile",
            {"school": "Lycée pilote de Sfax"},
            {
                "parent": ALLOW,
                "other_parent": 404,
                "assistante": ALLOW,
                "admin": ALLOW,
                "default": 403,
            },
        ),
        (
            "POST",
            "/v1/families/invitations",
            None,
            {"parent": ALLOW, "other_parent": ALLOW, "default": 403},
        ),
        (
            "POST",
            "/v1/families/join",
            {"code": "AAAA-BBBB-CCCC"},
            {"parent": 404, "other_parent": 404, "default": 403},
        ),
        ("GET", f"/v1/bilans/{w.bilan}/page?token=1.bad", None, {"anonymous": 403, "default": 403}),
        ("GET", "/v1/me/credits", None, signed_in),
        ("GET", "/v1/admin/people?q=matrix", None, staff_only),
        (
            "POST",
            "/v1/admin/webhooks",
            {"url": "http://127.0.0.1:9/matrix", "events": ["payment.succeeded"]},
            staff_only,
        ),
        (
            "GET",
            f"/v1/admin/webhooks/{uuid.uuid4()}/deliveries",
            None,
            {"assistante": 404, "admin": 404, "default": 403},
        ),
        (
            "POST",
            f"/v1/admin/webhooks/deliveries/{uuid.uuid4()}/replay",
            None,
            {"assistante": 404, "admin": 404, "default": 403},
        ),
        ("GET", "/v1/admin/audit?subject=order:", None, {"admin": ALLOW, "default": 403}),
        ("GET", "/v1/admin/orders?provider=WISE&status=PENDING", None, staff_only),
        ("GET", "/v1/admin/exam-registrations?status=REGISTERED", None, staff_only),
        ("GET", "/v1/admin/enquiries?status=SUBMITTED", None, staff_only),
        *[
            ("GET", f"/v1/me/{what}?student_id={s}", None, history)
            for what in (
                "attempts",
                "orders",
                "bilans",
                "ledger",
                "tutoring-history",
                "exam-registrations",
            )
        ],
        (
            "POST",
            f"/v1/admin/wallets/{s}/grants",
            {"credits": 1, "kind": "GOODWILL", "reason": "matrix"},
            staff_only,
        ),
        ("GET", "/v1/exams", None, signed_in),
        ("GET", "/v1/exams/FR-A1", None, signed_in),
        (
            "GET",
            f"/v1/attempts/{w.attempt}",
            None,
            family_a | strangers | {"coach": 404, "assistante": ALLOW, "admin": ALLOW},
        ),
        ("POST", "/v1/exercises/generate", {"generator": "proportionality"}, signed_in),
        (
            "GET",
            f"/v1/attempts/{w.attempt}/review",
            None,
            family_a | strangers | {"coach": 404, "assistante": ALLOW, "admin": ALLOW},
        ),
        ("PUT", "/v1/admin/question-pools/MATRIX", {"title": "Matrix"}, staff_only),
        (
            "PUT",
            f"/v1/admin/students/{s}/exam-accommodations",
            {"extra_percent": 25, "reason": "matrix"},
            staff_only,
        ),
        (
            "PUT",
            "/v1/admin/question-pools/MATRIX/questions/q1",
            {"body": {"type": "truefalse", "prompt": "Vrai ?", "answer": True}},
            staff_only,
        ),
        ("POST", "/v1/admin/question-pools/MATRIX/questions/q1/publish", None, staff_only),
        ("GET", "/v1/admin/question-pools/MATRIX/questions", None, staff_only),
        ("POST", "/v1/admin/question-pools/MATRIX/import?format=gift", None, staff_only),
        ("GET", "/v1/admin/question-pools/MATRIX/export", None, staff_only),
        ("PUT", "/v1/admin/exams/MATRIX-1/draft", MATRIX_EXAM, staff_only),
        ("POST", "/v1/admin/exams/MATRIX-1/publish", None, staff_only),
        ("POST", "/v1/admin/exams/MATRIX-1/retire", None, staff_only),
        ("GET", "/v1/admin/exams/FR-A1/statistics", None, staff_only),
        ("GET", "/v1/admin/exam-statistics/levels?course=language", None, staff_only),
        ("POST", "/v1/admin/question-pools/MATRIX/questions/q1/retire", None, staff_only),
        ("GET", "/v1/certificates/0000-0000-0000-0000", None, {"anonymous": 404, "default": 404}),
        ("GET", "/.well-known/jwks.json", None, {"anonymous": 200, "default": 200}),
        (
            "GET",
            "/v1/certificates/0000-0000-0000-0000/pdf?token=1.bad",
            None,
            {"anonymous": 403, "default": 403},
        ),
        ("GET", "/v1/me/certificates", None, signed_in),
        ("PATCH", "/v1/me/certificates/0000-0000-0000-0000", {"show_score": True}, nobody_s),
        (
            "GET",
            "/v1/certificates/0000-0000-0000-0000/credential",
            None,
            {"anonymous": 404, "default": 404},
        ),
        ("GET", "/v1/issuer", None, {"anonymous": 200, "default": 200}),
        ("GET", "/v1/achievements/no-such-thing", None, {"anonymous": 404, "default": 404}),
        (
            "GET",
            "/v1/achievements/no-such-thing/image.png",
            None,
            {"anonymous": 404, "default": 404},
        ),
        (
            "GET",
            "/v1/certificates/0000-0000-0000-0000/badge.png",
            None,
            {"anonymous": 404, "default": 404},
        ),
        ("GET", "/v1/status-lists/99999", None, {"anonymous": 404, "default": 404}),
        (
            "POST",
            "/v1/admin/certificates/0000-0000-0000-0000/revoke",
            {"reason": "matrix"},
            {"admin": 404, "default": 403},
        ),
        ("GET", "/v1/products", None, {"anonymous": 200, "default": 200}),
        (
            "POST",
            "/v1/payments/checkout",
            {"product_code": "PACK_5", "student_id": s, "provider": "wise"},
            family_a | strangers | {"coach": 403, "assistante": ALLOW, "admin": ALLOW},
        ),
        (
            "GET",
            f"/v1/payments/orders/{w.order}/receipt/pdf?token=1.bad",
            None,
            {"anonymous": 403, "default": 403},
        ),
        (
            "GET",
            f"/v1/payments/orders/{w.order}",
            None,
            {"parent": ALLOW, "assistante": ALLOW, "admin": ALLOW, "default": 404},
        ),
        (
            "GET",
            f"/v1/payments/orders/{w.paid_order}/receipt",
            None,
            {"parent": ALLOW, "assistante": ALLOW, "admin": ALLOW, "default": 404},
        ),
        (
            "POST",
            f"/v1/admin/payments/{w.order}/confirm",
            {"transfer_id": f"m-{w.order}", "amount_minor": 50000, "currency": "TND"},
            staff_only,
        ),
        (
            "GET",
            "/v1/webhooks/konnect?payment_ref=unknown",
            None,
            {"anonymous": 404, "default": 404},
        ),
        (
            "POST",
            "/v1/webhooks/konnect?payment_ref=unknown",
            None,
            {"anonymous": 404, "default": 404},
        ),
        (
            "POST",
            "/v1/bilans",
            {"student_id": s, "questionnaire": QUESTIONNAIRE},
            family_a | strangers | {"coach": 403, "assistante": 403, "admin": 403},
        ),
        ("GET", f"/v1/bilans/{w.bilan}", None, {"parent": ALLOW, "default": 404}),
        ("GET", "/v1/qualifications", None, signed_in),
        ("GET", "/v1/exam-sessions", None, signed_in),
        (
            "POST",
            f"/v1/exam-sessions/{w.session}/registrations",
            {"student_id": s},
            family_a | strangers | {"coach": 404, "assistante": ALLOW, "admin": ALLOW},
        ),
        (
            "POST",
            "/v1/qualifications/WINE-L2/makeup",
            {"student_id": s},
            family_a | strangers | {"coach": 404, "assistante": ALLOW, "admin": ALLOW},
        ),
        ("GET", "/v1/me/exams", None, signed_in),
        (
            "GET",
            f"/v1/enquiries/{w.enquiry}",
            None,
            family_a | strangers | {"coach": 404, "assistante": ALLOW, "admin": ALLOW},
        ),
        (
            "GET",
            f"/v1/students/{s}/exam-history",
            None,
            family_a | strangers | {"coach": 404, "assistante": ALLOW, "admin": ALLOW},
        ),
        ("GET", "/v1/admin/exam-sessions", None, staff_only),
        ("GET", "/v1/admin/exam-queues/remote-invigilation", None, staff_only),
        ("GET", "/v1/admin/exam-queues/makeups-resits", None, staff_only),
        (
            "PUT",
            "/v1/admin/exam-services/WINE-L1/RESIT",
            {"price_minor": 7500, "currency": "EUR"},
            staff_only,
        ),
        ("GET", "/v1/admin/refunds?status=DUE", None, staff_only),
        ("POST", f"/v1/admin/refunds/{w.refund}/made", {"reference": "VIR-1"}, staff_only),
        (
            "POST",
            f"/v1/registrations/{w.registration}/enquiries",
            {"type": "THEORY", "reason": "Relecture", "pay_with": "wise"},
            family_a | strangers | {"coach": 404, "assistante": ALLOW, "admin": ALLOW},
        ),
        (
            "POST",
            "/v1/admin/course-offerings",
            {"qualification_code": "WINE-L1", "name": "Matrix"},
            staff_only,
        ),
        (
            "POST",
            f"/v1/admin/course-offerings/{w.offering}/sessions",
            {"starts_on": "2031-03-02", "ends_on": "2031-03-02", "capacity": 5},
            staff_only,
        ),
        (
            "POST",
            "/v1/admin/exam-sessions",
            {
                "qualification_code": "WINE-L1",
                "type": "MAKEUP",
                "starts_at": "2031-01-10T10:00:00Z",
                "registration_deadline": "2031-01-09T10:00:00Z",
                "capacity": 5,
            },
            staff_only,
        ),
        (
            "POST",
            "/v1/admin/enrolments",
            {"student_id": other, "qualification_code": "WINE-L3"},
            staff_only,
        ),
        (
            "POST",
            f"/v1/admin/course-sessions/{w.course}/students",
            {"student_id": other},
            staff_only,
        ),
        ("POST", f"/v1/admin/registrations/{w.registration}/results", {"absent": True}, staff_only),
        ("POST", f"/v1/admin/enquiries/{w.enquiry}/review", None, staff_only),
        ("POST", f"/v1/admin/enquiries/{w.enquiry}/decision", {"decision": "REJECTED"}, staff_only),
        ("GET", "/v1/tutoring/services", None, signed_in),
        ("GET", "/v1/coaches", None, signed_in),
        (
            "POST",
            f"/v1/admin/coaches/{w.users['coach'].id}",
            {
                "subjects": ["maths"],
                "availability": [
                    {"weekday": d, "starts": "00:00", "ends": "23:59"} for d in range(1, 8)
                ],
            },
            staff_only,
        ),
        (
            "POST",
            "/v1/tutoring-sessions",
            booking,
            family_a | strangers | {"coach": 403, "assistante": ALLOW, "admin": ALLOW},
        ),
        ("GET", "/v1/me/tutoring-sessions", None, signed_in),
        (  # before the cancellation below: a coach reads the file of a student they teach
            "GET",
            f"/v1/students/{s}/file",
            None,
            family_a | strangers | {"coach": ALLOW, "assistante": ALLOW, "admin": ALLOW},
        ),
        (
            "GET",
            f"/v1/students/{s}/progress",
            None,
            family_a | strangers | {"coach": ALLOW, "assistante": ALLOW, "admin": ALLOW},
        ),
        (
            "PUT",
            f"/v1/coach/sessions/{w.tutoring_session}/progress/{s}",
            {"level": 3},
            {"coach": ALLOW, "default": 403},
        ),
        (
            "PUT",
            f"/v1/students/{s}/sharing",
            {"bilan_shared_with_coaches": False},
            family_a | strangers | {"coach": 403, "assistante": ALLOW, "admin": ALLOW},
        ),
        (
            "GET",
            f"/v1/rooms/{w.tutoring_session}?token=1.forged",
            None,
            {"anonymous": 404, "default": 404},
        ),
        (
            "POST",
            "/v1/admin/coaches",
            {
                "sub": "matrix-coach",
                "email": "matrix-coach@example.test",
                "pseudonym": "Matrice",
                "subjects": ["maths"],
                "availability": [],
            },
            staff_only,
        ),
        (
            "POST",
            f"/v1/tutoring-sessions/{w.booking}/cancel",
            None,
            family_a | strangers | {"coach": ALLOW, "assistante": ALLOW, "admin": ALLOW},
        ),
        ("GET", "/v1/coach/agenda", None, {"coach": ALLOW, "default": 403}),
        (
            "POST",
            f"/v1/coach/sessions/{w.tutoring_session}/report",
            {"report": "matrix"},
            {"coach": ALLOW, "default": 404},
        ),
        ("POST", f"/v1/admin/tutoring-bookings/{w.booking}/no-show", None, staff_only),
        (
            "POST",
            "/v1/exams/FR-A1/attempts",
            {"student_id": s},
            family_a | strangers | {"coach": 403, "assistante": 403, "admin": 403},
        ),
        (
            "PUT",
            f"/v1/attempts/{w.attempt}/answers",
            {"answers": {}, "attempt_token": w.attempt_token},
            family_a | {"default": 404},
        ),
        (
            "POST",
            f"/v1/attempts/{w.attempt}/submit",
            {"answers": {}, "attempt_token": w.attempt_token},
            family_a | {"default": 404},
        ),
        ("GET", f"/v1/aria/entitlements?student_id={s}", None, family_a | strangers | staff_reads),
        (
            "POST",
            "/v1/aria/conversations",
            {"subject": "NSI", "student_id": s},
            family_a | strangers | {"coach": 403, "assistante": 403, "admin": 403},
        ),
        ("GET", f"/v1/aria/conversations?student_id={s}", None, family_a | strangers | staff),
        ("GET", f"/v1/aria/conversations/{w.conversation}", None, family_a | staff_reads_only),
        (
            "POST",
            f"/v1/aria/conversations/{w.conversation}/messages",
            {"message": "Et le tri par insertion ?"},
            family_a | {"default": 404},
        ),
        (
            "POST",
            f"/v1/aria/messages/{w.aria_answer}/feedback",
            {"helpful": True},
            family_a | {"default": 404},
        ),
        (
            "POST",
            "/v1/admin/aria/content",
            {"subject": "NSI", "school_level": "bac", "title": "Piles", "body": "Une pile..."},
            staff_only,
        ),
        ("POST", f"/v1/admin/aria/content/{w.content}", {"title": "Les graphes (2)"}, staff_only),
        ("GET", "/v1/admin/aria/content", None, staff_only),
        ("POST", "/v1/aria/widget", {}, {"anonymous": 200, "default": 200}),
        (
            "POST",
            "/v1/aria/widget/lead",
            {"session_id": str(w.widget_session), "email": "m@example.test", "consent": True},
            {"anonymous": 200, "default": 200},
        ),
        ("GET", "/v1/admin/leads", None, staff_only),
        ("GET", "/v1/admin/leads.csv", None, staff_only),
        (
            "POST",
            f"/v1/admin/leads/{w.lead}/delete",
            None,
            {"assistante": 204, "admin": 404, "default": 403},  # deleted by the first
        ),
        (
            "POST",
            f"/v1/subscriptions/{w.subscription}/aria-subjects",
            {"subjects": ["NSI", "MATHEMATIQUES"]},
            payer | {"assistante": ALLOW, "admin": ALLOW},
        ),
        # last: staff end family A's subscription, which operations above rely on
        (
            "GET",
            "/v1/me/subscriptions",
            None,
            {"coach": 403, "assistante": 403, "admin": 403, "default": ALLOW},
        ),
        ("GET", f"/v1/me/subscriptions?student_id={s}", None, family_a | strangers | staff),
        ("POST", f"/v1/subscriptions/{w.subscription}/cancel", None, payer),
        ("POST", f"/v1/subscriptions/{w.subscription}/resume", None, payer),
        ("POST", f"/v1/subscriptions/{w.subscription}/plan", {"plan_code": "IMMERSION"}, payer),
        ("GET", f"/v1/admin/students/{s}/subscriptions", None, staff_only),
        (
            "POST",
            f"/v1/admin/subscriptions/{w.subscription}/end",
            {"reason": "matrix"},
            staff_only,
        ),
    ]


@pytest.fixture(scope="module")
def world(database_url: str, principal: Any) -> World:
    return World(principal)


@pytest.fixture(scope="module")
def principal() -> Any:  # module-scoped twin of conftest's, for the module's world
    def make(role: Role = Role.ELEVE, name: str | None = None) -> Principal:
        sub = f"{role.value.lower()}-{uuid.uuid4()}"
        return Principal(sub=sub, email=f"{sub}@example.test", name=name or sub, role=role)

    return make


@pytest.fixture(scope="module")
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(Gateway(template.load().functions()), raise_server_exceptions=False) as c:
        yield c


def test_the_matrix_covers_every_operation(client: TestClient, world: World) -> None:
    spec = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    covered = set()
    for method, path, _, _ in matrix(world):
        bare = path.split("?")[0]
        for m, p in documented:
            pattern = p.replace("{", "(?P<").replace("}", ">[^/]+)")
            if m == method and re.fullmatch(pattern, bare):
                covered.add((m, p))
    assert documented - covered == set()


def test_every_operation_for_every_caller(client: TestClient, world: World) -> None:
    wrong = []
    for method, path, body, expected in matrix(world):
        for role in ROLES:
            if role == "anonymous":  # 401 unless the operation is public
                want = expected.get("anonymous", 401)
            else:
                want = expected.get(role, expected.get("default"))
            token = world.token(role)
            headers = {"Idempotency-Key": f"matrix-{role}-{uuid.uuid4()}"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            response = client.request(method, path, json=body, headers=headers)
            got = response.status_code
            ok = got not in (401, 403, 404) and got < 500 if want == ALLOW else got == want
            if not ok:
                wrong.append((method, path, role, want, got, response.text[:160]))
    assert wrong == [], "\n".join(map(str, wrong))
