"""The request paths and the periodic jobs on a database the size of a million students.

Built set-based, in committed batches: STUDENTS students (default 1,000,000), each with a user,
a wallet, 5 lots of 10 credits with their grant entries, 15 spends of one credit (3 a lot, each
with its allocation), 2 of them exam debits with their graded attempts: 20 ledger entries a
student (20M), 5M lots, 15M allocations, 2M attempts. One wallet in 50 has a lot that expired
yesterday (the expiry job's work); 1% of the wallets then spend through the domain code after
the periodic checks' watermarks (the hour's activity the hourly check must cover).

Then, on SAMPLES students drawn at random over the whole population, each request path through
its real handler (in-process, as Lambda calls it, against this PostgreSQL and moto in its own
process): its statements and their time (round trips included), p50 and p99, against a budget
of 5 ms of SQL; and each periodic job through its handler, against its template timeout / 5.

Run: make bench-scale   (STUDENTS, SAMPLES to change it; the build takes most of the time;
SCALE_DATA=folder keeps the built database there and measures it again on the next run,
already touched by the previous run's measurements: publish figures from a fresh build)
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from _common import database, remote_moto

from reussite import db
from reussite.exams import folding
from reussite.identity.models import Principal, Role
from reussite.ledger import jobs
from reussite.ledger import service as ledger
from reussite_local import functions, template
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims

STUDENTS = int(os.environ.get("STUDENTS", "1000000"))
SAMPLES = int(os.environ.get("SAMPLES", "200"))
KEEP = os.environ.get("SCALE_DATA")
BATCH = 50_000
SQL_BUDGET_MS = 5.0
EXAM = "MATHS-PROP"
TEMPLATE = template.load()
FUNCTIONS = {fn.name: fn for fn in TEMPLATE.functions()}

BUILD = [
    """WITH u AS (
           INSERT INTO users (sub, role, email, name)
           SELECT 'scale-' || g, 'ELEVE', 'scale-' || g || '@example.test', 'Élève ' || g
             FROM generate_series(%(lo)s::int, %(hi)s::int) g
           RETURNING id, sub),
       s AS (
           INSERT INTO students (user_id, display_name, created_by, self_provisioned)
           SELECT id, 'Élève ' || split_part(sub, '-', 2), id, true FROM u
           RETURNING id, user_id),
       w AS (INSERT INTO wallets (student_id, balance) SELECT id, 35 FROM s
             RETURNING id, student_id)
       INSERT INTO scale_people (n, user_id, student_id, wallet_id)
       SELECT split_part(u.sub, '-', 2)::int, s.user_id, s.id, w.id
         FROM s JOIN u ON u.id = s.user_id JOIN w ON w.student_id = s.id""",
    # 5 lots of 10 a wallet, 7 left in each; one wallet in 50 has one that expired yesterday
    """WITH l AS (
           INSERT INTO credit_lots (wallet_id, kind, amount, remaining, granted_at, expires_at)
           SELECT p.wallet_id, 'PURCHASE', 10, 7,
                  CASE WHEN k = 0 AND p.n %% 50 = 0 THEN now() - interval '13 months'
                       ELSE %(at)s - interval '1 month' * (5 - k) END,
                  CASE WHEN k = 0 AND p.n %% 50 = 0 THEN now() - interval '1 day'
                       ELSE now() + interval '1 month' * (7 + k) END
             FROM scale_people p, generate_series(0, 4) k
            WHERE p.n BETWEEN %(lo)s::int AND %(hi)s::int
           RETURNING id, wallet_id)
       INSERT INTO ledger_entries (wallet_id, kind, amount, lot_id, idempotency_key, purpose,
                                   balance_after, created_at)
       SELECT wallet_id, 'GRANT', 10, id, 'grant-' || id, 'pack', 10, %(at)s FROM l""",
    """CREATE TEMP TABLE plan ON COMMIT DROP AS
       SELECT nextval(pg_get_serial_sequence('ledger_entries', 'id')) AS entry_id, l.id AS lot_id,
              l.wallet_id, p.user_id, p.student_id, j = 1 AND l.r <= 2 AS exam,
              gen_random_uuid() AS attempt_id
         FROM (SELECT c.id, c.wallet_id,
                      row_number() OVER (PARTITION BY c.wallet_id ORDER BY c.id) AS r
                 FROM credit_lots c JOIN scale_people q ON q.wallet_id = c.wallet_id
                WHERE q.n BETWEEN %(lo)s::int AND %(hi)s::int) l
         JOIN scale_people p ON p.wallet_id = l.wallet_id, generate_series(1, 3) j""",
    """INSERT INTO ledger_entries (id, wallet_id, kind, amount, idempotency_key, purpose,
                                  balance_after, created_at)
       OVERRIDING SYSTEM VALUE
       SELECT entry_id, wallet_id, 'SPEND', -1,
              CASE WHEN exam THEN 'exam-start:' || attempt_id ELSE 'spend:' || entry_id END,
              CASE WHEN exam THEN 'exam:MATHS-PROP' ELSE 'tutoring' END, 35,
              %(at)s + interval '1 minute'
         FROM plan""",
    "INSERT INTO entry_allocations (entry_id, lot_id, amount) SELECT entry_id, lot_id, 1 FROM plan",
    """INSERT INTO exam_attempts (id, student_id, exam_code, exam_version, status, seed,
                                 questions, started_at, deadline_at, debit_entry_id, started_by,
                                 submitted_at, answers, score, passed, finalised_by,
                                 certificate_requested_at)
       SELECT attempt_id, student_id, 'MATHS-PROP', 1, 'GRADED', entry_id, '[]',
              %(at)s + interval '1 minute', %(at)s + interval '31 minutes', entry_id, user_id,
              %(at)s + interval '20 minutes', '{}', 80, true, 'student',
              %(at)s + interval '20 minutes'
         FROM plan WHERE exam""",
    # The wine school (seed 003): one student in 20 a candidate, in a Level 3 course of 25
    # whose bundled session they sat (70 % passed, 20 % failed: the resit queue) or missed
    # (10 %: the makeup queue); one student in 100 enrolled online (the remote queue).
    """WITH c AS (
           INSERT INTO course_sessions (offering_id, starts_on, ends_on, location, remote, capacity)
           SELECT (SELECT id FROM scale_offering), (%(at)s - interval '5 days')::date,
                  (%(at)s - interval '1 day')::date, 'Bordeaux', false, 25
             FROM generate_series(%(lo)s::int, %(hi)s::int) g WHERE g %% 500 = 0
           RETURNING id)
       INSERT INTO exam_sessions (qualification_code, type, template_id, course_session_id,
                                  components, starts_at, location, remote, capacity, registered,
                                  registration_deadline, duration_minutes)
       SELECT 'WINE-L3', 'BUNDLED', (SELECT template_id FROM scale_offering), c.id,
              ARRAY['THEORY', 'TASTING'], %(at)s - interval '1 day', 'Bordeaux', false, 25, 25,
              %(at)s - interval '5 days', 210
         FROM c""",
    """CREATE TEMP TABLE sat ON COMMIT DROP AS
       SELECT p.n, p.student_id, p.user_id, gen_random_uuid() AS registration_id,
              (SELECT id FROM exam_sessions  -- this batch's courses, 25 candidates each
                WHERE type = 'BUNDLED' AND starts_at = %(at)s - interval '1 day'
                ORDER BY id OFFSET (p.n / 20) %% %(courses)s LIMIT 1) AS session_id,
              CASE WHEN p.n %% 200 < 140 THEN 'PASS' WHEN p.n %% 200 < 180 THEN 'FAIL'
                   ELSE 'ABSENT' END AS result
         FROM scale_people p
        WHERE p.n BETWEEN %(lo)s::int AND %(hi)s::int AND p.n %% 20 = 0""",
    """INSERT INTO exam_registrations (id, session_id, student_id, components, status,
                                      fee_credits, paid_with, idempotency_key, registered_by,
                                      created_at, absent_at)
       SELECT registration_id, session_id, student_id, ARRAY['THEORY', 'TASTING'],
              CASE WHEN result = 'ABSENT' THEN 'ABSENT' ELSE 'SAT' END, 0, 'FREE',
              'scale-' || registration_id, user_id, %(at)s - interval '10 days',
              CASE WHEN result = 'ABSENT' THEN %(at)s END
         FROM sat""",
    """INSERT INTO enrolments (student_id, qualification_code, online, enrolled_at)
       SELECT student_id, 'WINE-L3', false, %(at)s - interval '10 days' FROM sat
       UNION ALL
       SELECT student_id, 'WINE-L2', true, %(at)s FROM scale_people
        WHERE n BETWEEN %(lo)s::int AND %(hi)s::int AND n %% 100 = 7""",
    """INSERT INTO qualification_outcomes (student_id, qualification_code, registration_id,
                                          components, passed, grade, percent, created_at)
       SELECT student_id, 'WINE-L3', registration_id,
              jsonb_build_object(
                  'THEORY', jsonb_build_object('score', 70, 'passed', true, 'carried', false),
                  'TASTING', jsonb_build_object('score', CASE WHEN result = 'PASS' THEN 70 ELSE 40
                                                         END, 'passed', result = 'PASS',
                                                'carried', false)),
              result = 'PASS', CASE WHEN result = 'PASS' THEN 'MERIT' ELSE 'FAIL' END,
              CASE WHEN result = 'PASS' THEN 70 ELSE 55 END, %(at)s
         FROM sat WHERE result <> 'ABSENT'""",
]


def build(url: str) -> None:
    """The population, a batch of BATCH students a transaction, entries in time order."""
    started = time.perf_counter()
    first = datetime.now(UTC) - timedelta(days=365)
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('scale_people')").fetchone() != (None,):
            (built,) = conn.execute("SELECT count(*) FROM scale_people").fetchone()  # type: ignore[misc]
            assert built == STUDENTS, f"{KEEP} holds {built:,} students, not {STUDENTS:,}"
            print(f"measuring the {built:,} students kept in {KEEP} (touched by earlier runs)")
            return
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            "CREATE UNLOGGED TABLE scale_people (n int PRIMARY KEY, user_id uuid,"
            " student_id uuid, wallet_id uuid UNIQUE)"
        )
        conn.execute(  # the wine school's Level 3 course offering and its exam template
            """CREATE UNLOGGED TABLE scale_offering AS
               WITH staff AS (INSERT INTO users (sub, role, name) VALUES
                                  ('scale-wine-staff', 'ASSISTANTE', 'Staff') RETURNING id),
                    o AS (INSERT INTO course_offerings (qualification_code, name, created_by)
                          SELECT 'WINE-L3', 'Level 3', id FROM staff RETURNING id),
                    t AS (INSERT INTO exam_templates (offering_id, components, exam_day)
                          SELECT id, ARRAY['THEORY', 'TASTING'], 'FINAL_DAY' FROM o
                          RETURNING id, offering_id)
               SELECT offering_id AS id, id AS template_id FROM t"""
        )
        batches = range(1, STUDENTS + 1, BATCH)
        for b, lo in enumerate(batches):
            hi = min(STUDENTS, lo + BATCH - 1)
            at = first + timedelta(days=358) * b / len(batches)  # a week before now at most
            with conn.transaction():
                for statement in BUILD:
                    courses = max(1, (hi - lo + 1) // 500)  # one a 500 students (g % 500 = 0)
                    conn.execute(statement, {"lo": lo, "hi": hi, "at": at, "courses": courses})
            done = hi / STUDENTS
            print(
                f"\r  built {hi:,} students ({done:.0%}) in {time.perf_counter() - started:.0f} s",
                end="",
                flush=True,
            )
        print()
        conn.execute("VACUUM ANALYZE")
        sizes = conn.execute(
            """SELECT (SELECT count(*) FROM ledger_entries) AS entries,
                      (SELECT count(*) FROM credit_lots) AS lots,
                      (SELECT count(*) FROM entry_allocations) AS allocations,
                      (SELECT count(*) FROM exam_attempts) AS attempts,
                      pg_size_pretty(pg_database_size(current_database())) AS size,
                      (SELECT count(*) FROM exam_registrations) AS registrations,
                      (SELECT count(*) FROM qualification_outcomes) AS outcomes,
                      (SELECT count(*) FROM exam_sessions) AS sessions"""
        ).fetchone()
        assert sizes is not None
    print(
        f"built {STUDENTS:,} students: {sizes[0]:,} ledger entries, {sizes[1]:,} lots, "
        f"{sizes[2]:,} allocations, {sizes[3]:,} attempts, {sizes[5]:,} exam registrations "
        f"in {sizes[7]:,} sessions with {sizes[6]:,} outcomes, {sizes[4]} on disk, "
        f"in {time.perf_counter() - started:.0f} s (vacuum and analyze included)"
    )


def student(n: int) -> Principal:
    sub = f"scale-{n}"
    return Principal(sub=sub, email=f"{sub}@example.test", name=f"Élève {n}", role=Role.ELEVE)


# The staff reads as they were before they used indexes and running sums (commits 182488b,
# 422f6b1), run once each beside them: the people search's ILIKE over every user and profile,
# and the quiz statistics' read of every graded attempt of the exam.
BEFORE = {
    "GET /v1/admin/people?q=<email>": """
        SELECT * FROM (
            SELECT u.id, coalesce(u.profile_name, u.name) AS name, u.email, u.created_at
              FROM users u LEFT JOIN students s ON s.user_id = u.id
             WHERE coalesce(u.profile_name, u.name, '') ILIKE %(like)s
                OR coalesce(u.email, '') ILIKE %(like)s
            UNION ALL
            SELECT s.id, s.display_name, NULL, s.created_at FROM students s
             WHERE s.user_id IS NULL AND s.display_name ILIKE %(like)s) t
         ORDER BY t.created_at DESC, t.id DESC LIMIT 21""",
    "GET /v1/admin/exams/{code}/statistics": """
        SELECT questions, question_credits, answers, passed, score FROM exam_attempts
         WHERE exam_code = 'MATHS-PROP' AND exam_version = 1 AND status = 'GRADED'""",
    "GET /v1/admin/exam-statistics/levels": """
        SELECT d.level, count(*) AS attempts FROM exam_attempts a
          JOIN exam_definitions d ON d.code = a.exam_code
         WHERE a.status = 'GRADED' GROUP BY d.level""",
}

STAFF = Principal(sub="scale-staff", email="staff@example.test", name="Staff", role=Role.ADMIN)


def call(function: str, method: str, path: str, who: Principal, **kw: Any) -> tuple[Any, Any]:
    """A request through its function's handler: (its answer's body, the statements it ran)."""
    headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else None
    event = http_api_event(method, path, claims=principal_claims(who), headers=headers, **kw)
    with db.counting() as statements:
        answer = functions.invoke(FUNCTIONS[function], event)
    assert answer["statusCode"] < 300, (path, answer)
    return json.loads(answer["body"]), statements


class Paths:
    """Each request path's SQL milliseconds and statement counts over the samples."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}
        self.count: dict[str, list[int]] = {}

    def record(self, name: str, statements: Any) -> None:
        self.ms.setdefault(name, []).append(statements.seconds * 1000)
        self.count.setdefault(name, []).append(statements.count)

    def student_paths(self, n: int) -> None:
        who = student(n)
        for name, path in (
            ("GET /v1/me/credits", "/v1/me/credits"),
            ("GET /v1/me/ledger", "/v1/me/ledger"),
            ("GET /v1/me/attempts", "/v1/me/attempts"),
            ("GET /v1/me/certificates", "/v1/me/certificates"),
        ):
            function = {
                "/v1/me/credits": "credits_api",
                "/v1/me/ledger": "credits_api",
                "/v1/me/attempts": "exams_api",
                "/v1/me/certificates": "certificates_api",
            }[path]
            self.record(name, call(function, "GET", path, who)[1])
        attempt, statements = call("exam_start", "POST", f"/v1/exams/{EXAM}/attempts", who, body={})
        self.record("POST /v1/exams/{code}/attempts", statements)
        row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],))
        assert row is not None
        body = {
            "attempt_token": attempt["attempt_token"],
            "answers": {q["id"]: q["answer"] for q in row["questions"]},
        }
        path = f"/v1/attempts/{attempt['id']}/submit"
        self.record(
            "POST /v1/attempts/{id}/submit", call("exam_submit", "POST", path, who, body=body)[1]
        )
        wallet = ledger.wallet_of(
            db.read_one("SELECT student_id FROM scale_people WHERE n = %s", (n,))["student_id"]
        )  # type: ignore[index]
        candidate = n - n % 20 or 20  # the nearest wine candidate
        row = db.read_one("SELECT student_id FROM scale_people WHERE n = %s", (candidate,))
        if row is not None:
            path = f"/v1/students/{row['student_id']}/exam-history"
            self.record(
                "GET /v1/students/{id}/exam-history",
                call("exam_sessions_api", "GET", path, STAFF)[1],
            )
        ledger.spend(wallet, 1, key=f"session-{n}", purpose="tutoring")
        with db.counting() as statements:
            ledger.refund(wallet, f"session-{n}", "cancelled")
        self.record("refund of a spend (a cancellation)", statements)
        for name, q in (
            ("GET /v1/admin/people?q=<email>", f"scale-{n}@example.test"),
            ("GET /v1/admin/people?q=<name> (*)", f"Élève {n}"),
        ):
            found, statements = call(
                "identity_api", "GET", "/v1/admin/people", STAFF, query=urlencode({"q": q})
            )
            if "email" in name:  # a name's number prefixes others' ("12" begins "123")
                assert [p["email"] for p in found["items"]] == [q], found
            self.record(name, statements)

    def staff_paths(self) -> None:
        for name, path in (
            ("GET /v1/admin/exams/{code}/statistics", f"/v1/admin/exams/{EXAM}/statistics"),
            ("GET /v1/admin/exam-statistics/levels", "/v1/admin/exam-statistics/levels"),
            ("GET /v1/admin/audit", "/v1/admin/audit"),
        ):
            self.record(
                name, call("exams_api" if "exam" in path else "identity_api", "GET", path, STAFF)[1]
            )
        for name, path, query in (
            (
                "GET /v1/admin/exam-sessions (calendar)",
                "/v1/admin/exam-sessions",
                "since="
                + (datetime.now(UTC) - timedelta(days=400)).isoformat().replace("+", "%2B"),
            ),
            (
                "GET /v1/admin/exam-queues/remote-invigilation",
                "/v1/admin/exam-queues/remote-invigilation",
                "",
            ),
            (
                "GET /v1/admin/exam-queues/makeups-resits",
                "/v1/admin/exam-queues/makeups-resits",
                "",
            ),
            ("GET /v1/admin/enquiries?status=SUBMITTED", "/v1/admin/enquiries", "status=SUBMITTED"),
        ):
            self.record(name, call("exam_sessions_api", "GET", path, STAFF, query=query)[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> int:
    ok = True
    with database(Path(KEEP) / "pgdata" if KEEP else None) as url, remote_moto():
        os.environ["FEATURE_FLAGS_FILE"] = str(template.ROOT / "config" / "feature_flags.json")
        from reussite.settings import get_settings

        get_settings.cache_clear()
        build(url)
        first_check, _ = timed(lambda: jobs.check_invariants(full=False, sweep_seconds=0))
        db.connection().execute(  # the ledger built above is history, older than the last runs
            "UPDATE job_watermarks SET cutoff = clock_timestamp() + %s", (jobs.CHANGE_MARGIN,)
        )
        active = random.Random(1).sample(range(1, STUDENTS + 1), max(1, STUDENTS // 100))
        spent, _ = timed(
            lambda: [
                ledger.spend(
                    db.read_one("SELECT wallet_id FROM scale_people WHERE n = %s", (n,))[
                        "wallet_id"
                    ],  # type: ignore[index]
                    1,
                    key=f"hour-{n}",
                    purpose="tutoring",
                )
                for n in active
            ]
        )
        folded_seconds, folded = timed(lambda: folding.fold_all(seconds=3600))
        print(
            f"quiz statistics' backfill (once, at deploy): {folded:,} graded attempts folded in "
            f"{folded_seconds:.0f} s ({folded / max(folded_seconds, 1e-9):,.0f}/s, a batch of "
            f"{folding.FOLD_BATCH:,} a transaction)"
        )
        print(
            f"first invariant check (sets its watermark): {first_check:.1f} s; "
            f"the hour's activity: {len(active):,} spends in {spent:.0f} s"
        )

        paths = Paths()
        sample = random.Random(2).sample(range(1, STUDENTS + 1), SAMPLES + 1)
        paths.student_paths(sample[0])  # warms the containers' caches, as in steady state
        paths.ms.clear()
        paths.count.clear()
        for n in sample[1:]:
            paths.student_paths(n)
        for _ in range(5):
            paths.staff_paths()
        print(
            f"\nrequest paths' SQL on {SAMPLES} random students of {STUDENTS:,} "
            f"(budget {SQL_BUDGET_MS:.0f} ms p50)"
        )
        print(f"    {'path':40} {'statements':>10} {'p50 ms':>8} {'p99 ms':>8}")
        for name, values in paths.ms.items():
            counts = paths.count[name]
            good = pct(values, 0.5) < SQL_BUDGET_MS
            ok = ok and good
            shown = (
                f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
            )
            print(
                f"    {name:40} {shown:>10} {pct(values, 0.5):8.2f} {pct(values, 0.99):8.2f}"
                f"  {'ok' if good else 'OVER'}"
            )
        print("    (*) every name here is 'Élève <n>': one of its words is in all 1M names")
        print("  before (same database, the previous queries, once each):")
        for name, query in BEFORE.items():
            seconds, _ = timed(
                lambda q=query: (
                    db.connection()
                    .execute(q, {"like": f"%scale-{sample[1]}@example.test%"})
                    .fetchall()
                )
            )
            print(f"    {name:40} {seconds * 1000:19.0f}")

        print("\nperiodic jobs through their handlers (budget: the template's timeout / 5)")
        for name in (
            "ledger_invariants",
            "credit_expiry",
            "attempt_sweeper",
            "monthly_allocation",
            "subscription_renewals",
            "payment_reconciliation",
            "monthly_emails",
            "tutoring_reminders",
            "bilan_sweeper",
        ):
            fn = FUNCTIONS[name]
            budget = int(TEMPLATE.resources[fn.logical_id]["Properties"].get("Timeout", 10)) / 5
            seconds, result = timed(lambda f=fn: functions.invoke(f, functions.sample_event(f)))
            good = seconds < budget
            ok = ok and good
            print(
                f"    {name:24} {seconds:8.2f} s  budget {budget:6.1f} s  "
                f"{'ok' if good else 'OVER'}  {str(result)[:120]}"
            )
        full_seconds, full = timed(lambda: jobs.check_invariants(full=True))
        print(
            f"    full invariant check on demand, {full.batches} committed batches: "
            f"{full_seconds:.1f} s ({full.wallets_checked:,} wallets, "
            f"{'clean' if full.clean else 'MISMATCH'})"
        )
        ok = ok and full.clean
        db.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
