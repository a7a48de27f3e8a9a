"""ARIA benchmark, two figures beside their baselines in the same run.

1. Retrieval: the full-text search ARIA runs for each message (any word of the question, the
   subject's pieces, the student's level first, top 5) over PIECES pieces of content, beside a
   plain primary-key lookup of one piece on the same connection. Target: p50 < 10 ms.
2. Handler overhead per message: POST /v1/aria/conversations/{id}/messages through the whole
   aria_api handler (Mangum, FastAPI, the caller, the key's claim, entitlement and quota,
   the history, retrieval over the same 100,000 pieces, two transactions), minus the tutor's
   own time (recorded per message; the offline tutor), beside GET /v1/aria/entitlements
   through the same stack. Target: p50 < 15 ms.

Run: make bench-aria   (PIECES, QUERIES, MESSAGES to change the sizes)
"""

from __future__ import annotations

import os
import random
import statistics
import time
import uuid
from typing import Any

import psycopg
from _common import database, remote_moto

from reussite import db
from reussite.aria import content
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.payments import checkout, wise
from reussite.payments.models import Provider
from reussite_local import functions, template
from reussite_local.events import http_api_event

PIECES = int(os.environ.get("PIECES", "100000"))
QUERIES = int(os.environ.get("QUERIES", "300"))
MESSAGES = int(os.environ.get("MESSAGES", "300"))
SUBJECTS = ["MATHEMATIQUES", "NSI", "FRANCAIS", "PHILOSOPHIE", "HISTOIRE_GEO", "ANGLAIS"]
SUBJECTS += ["ESPAGNOL", "PHYSIQUE_CHIMIE", "SVT", "SES"]
LEVELS = ["7e", "8e", "9e", "1ere-secondaire", "2e-secondaire", "3e-secondaire", "bac"]
WORDS = str.split(
    "algorithme tri liste tableau boucle fonction variable récursivité graphe arbre pile file "
    "dérivée intégrale suite limite probabilité vecteur équation fraction théorème triangle "
    "cercle énergie force vitesse atome molécule réaction cellule génétique évolution climat "
    "révolution empire guerre démocratie marché croissance inflation chômage monnaie roman "
    "poésie théâtre argument dissertation conscience liberté vérité justice bonheur devoir "
    "grammaire conjugaison vocabulaire lecture écriture méthode exemple exercice correction"
)


def seed_content(url: str, count: int) -> None:
    """`count` pieces spread over the subjects and levels, each ~60 words of the vocabulary
    (plus a made-up word per piece, so that the index holds many distinct lexemes)."""
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            """INSERT INTO pedagogical_content (subject, school_level, title, body)
               SELECT (%(subjects)s::text[])[1 + g %% 10], (%(levels)s::text[])[1 + g %% 7],
                      'Fiche ' || g,
                      'mot' || g || ' ' || array_to_string(ARRAY(
                          SELECT (%(words)s::text[])[1 + floor(random() * %(n)s)::int]
                            FROM generate_series(1, 60) w WHERE g > 0), ' ')
                 FROM generate_series(1, %(count)s) g""",
            {
                "subjects": SUBJECTS,
                "levels": LEVELS,
                "words": WORDS,
                "n": len(WORDS),
                "count": count,
            },
        )
        conn.execute("ANALYZE pedagogical_content")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))]


def bench_retrieval(url: str) -> tuple[tuple[float, float], tuple[float, float]]:
    rng = random.Random(7)
    ids = [
        r[0]
        for r in psycopg.connect(url)
        .execute("SELECT id FROM pedagogical_content ORDER BY random() LIMIT %s", (QUERIES,))
        .fetchall()
    ]
    conn = db.connection()
    for _ in range(20):  # warm the caches and the plans
        content.retrieve(rng.choice(SUBJECTS), rng.choice(LEVELS), " ".join(rng.sample(WORDS, 6)))
    ours, base = [], []
    for i in range(QUERIES):
        question = "Explique-moi " + " ".join(rng.sample(WORDS, 6))
        started = time.perf_counter()
        found = content.retrieve(rng.choice(SUBJECTS), rng.choice(LEVELS), question)
        ours.append((time.perf_counter() - started) * 1000)
        assert len(found) == content.TOP
        started = time.perf_counter()
        conn.execute(
            "SELECT id, title, body FROM pedagogical_content WHERE id = %s", (ids[i],)
        ).fetchone()
        base.append((time.perf_counter() - started) * 1000)
    return percentiles(ours), percentiles(base)


def family() -> tuple[Principal, Any]:
    """A student with a paid plan whose ARIA subjects include NSI, and no daily limit to hit."""
    db.connection().execute("UPDATE plans SET aria_daily_messages = 1000000")
    for name, value in (("WISE_ACCOUNT_HOLDER", "Bench School"), ("WISE_IBAN", "FR76300060")):
        os.environ[name] = os.environ.get(name) or value  # a bank transfer pays the plan
    from reussite.settings import get_settings

    get_settings.cache_clear()
    who = Principal(
        sub=f"bench-{uuid.uuid4()}", name="Bench", email="b@bench.test", role=Role.ELEVE
    )
    user = identity.resolve_user(who)
    staff = identity.resolve_user(Principal(sub=f"staff-{uuid.uuid4()}", role=Role.ASSISTANTE))
    db.connection().execute(  # a student has a level: ARIA searches it first
        "UPDATE students SET school_level = 'bac' WHERE id = %s", (user.student_id,)
    )
    order = checkout.checkout(user, "IMMERSION", None, Provider.WISE, "bench", ["NSI"])
    wise.confirm_transfer(staff, order.id, "bench-transfer", order.amount_minor, order.currency)
    return who, user.student_id


def bench_handler() -> tuple[tuple[float, float], tuple[float, float]]:
    fn = next(f for f in template.load().functions() if f.name == "aria_api")
    functions.load_module(fn)
    who, _ = family()
    claims = {"sub": who.sub, "role": "ELEVE", "name": "Bench", "email": "b@bench.test"}

    def call(method: str, path: str, route: str, body: Any = None, **extra: Any) -> Any:
        event = http_api_event(method, path, route_path=route, claims=claims, body=body, **extra)
        result = functions.invoke(fn, event)
        assert result["statusCode"] in (200, 201), result["body"]
        return result

    def conversation() -> str:
        import json

        made = call(
            "POST",
            "/v1/aria/conversations",
            "/v1/aria/conversations",
            {"subject": "NSI"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return str(json.loads(made["body"])["id"])

    route = "/v1/aria/conversations/{conversation_id}/messages"
    ours, base = [], []
    current = conversation()
    for i in range(MESSAGES + 20):
        if i % 90 == 0:
            current = conversation()
        started = time.perf_counter()
        call(
            "POST",
            f"/v1/aria/conversations/{current}/messages",
            route,
            {"message": f"Explique-moi le tri à bulles et la récursivité ({i})"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            path_parameters={"conversation_id": current},
        )
        wall = (time.perf_counter() - started) * 1000
        tutor = db.read_one(
            "SELECT latency_ms FROM aria_messages WHERE role = 'aria' ORDER BY created_at DESC"
            " LIMIT 1"
        )
        started = time.perf_counter()
        call("GET", "/v1/aria/entitlements", "/v1/aria/entitlements")
        floor = (time.perf_counter() - started) * 1000
        if i >= 20:  # the first ones warm the clients and plans
            ours.append(wall - float((tutor or {}).get("latency_ms") or 0))
            base.append(floor)
    return percentiles(ours), percentiles(base)


def main() -> None:
    with database() as url, remote_moto():
        os.environ["DATABASE_URL"] = url
        from reussite.settings import get_settings

        get_settings.cache_clear()
        started = time.perf_counter()
        seed_content(url, PIECES)
        print(f"seeded {PIECES:,} pieces in {time.perf_counter() - started:.1f} s")
        (p50, p99), (b50, b99) = bench_retrieval(url)
        print(f"retrieval, {PIECES:,} pieces, {QUERIES} questions (target p50 < 10 ms):")
        print(f"  ours       p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
        print(f"  baseline   p50 {b50:6.2f} ms   p99 {b99:6.2f} ms   (primary-key lookup)")
        (m50, m99), (f50, f99) = bench_handler()
        print(f"message handler overhead, {MESSAGES} messages (target p50 < 15 ms):")
        print(f"  ours       p50 {m50:6.2f} ms   p99 {m99:6.2f} ms   (minus the tutor's time)")
        print(f"  baseline   p50 {f50:6.2f} ms   p99 {f99:6.2f} ms   (GET entitlements)")


if __name__ == "__main__":
    main()
