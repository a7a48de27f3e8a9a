"""Exam start through the whole handler stack beside the raw SQL it performs, in the same run.

Ours: an API Gateway event -> the exam_start Lambda handler (Mangum -> FastAPI -> identity ->
feature flag -> Powertools idempotency on DynamoDB -> domain -> PostgreSQL), in-process, with
moto's DynamoDB as a separate process standing in for the remote table.
Baseline: the SQL a start performs (user, exam, offer and wallet reads; then lock the wallet,
look up the key, check for an open attempt, read live lots, write the debit, insert the attempt)
on a bare psycopg connection per worker.

Both run with 8 concurrent workers on one hot wallet (one student) and on many wallets; each
iteration then closes the attempt it opened (the same UPDATE in both), since a student has one
open attempt per exam. Targets: throughput ratio >= 0.5; warm handler overhead p50 < 2 ms.

Run: make bench-exam-start   (START_SECONDS, SAMPLES to change the sizes; FRONT_DOOR=off
measures the same stack without the DynamoDB idempotency layer, for diagnosis)
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from _common import database, remote_moto
from ledger import make_wallets, throughput

from reussite import db
from reussite.exams import service as exams
from reussite.ledger import service as ledger
from reussite_local import functions, template
from reussite_local.events import http_api_event

WORKERS = 8
SECONDS = float(os.environ.get("START_SECONDS", "4"))
SAMPLES = int(os.environ.get("SAMPLES", "300"))
MANY = 2000
EXAM = "FR-A1"
# one-credit exams: on the hot wallet each worker starts its own (one open attempt per exam)
EXAMS = ["FR-A1", "FR-A2", "EN-A1", "EN-A2", "ES-A1", "ES-A2", "AR-A1", "AR-A2"]


def students(url: str, count: int) -> list[tuple[str, Any]]:
    """(sub, student_id) of `count` students holding plenty of credits."""
    make_wallets(url, count, 1, 1_000_000, expired=False)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT u.sub, s.id FROM users u JOIN students s ON s.user_id = u.id
                JOIN wallets w ON w.student_id = s.id
               WHERE w.balance = 1000000 ORDER BY u.sub DESC LIMIT %s""",
            (count,),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def handler_start() -> Callable[[str, Any], None]:
    fn = next(f for f in template.load().functions() if f.name == "exam_start")
    functions.load_module(fn)

    def start(sub: str, student_id: Any, code: str = EXAM) -> None:
        event = http_api_event(
            "POST",
            f"/v1/exams/{code}/attempts",
            route_path="/v1/exams/{code}/attempts",
            claims={"sub": sub, "role": "ELEVE", "name": sub},
            body={},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            path_parameters={"code": code},
        )
        result = functions.invoke(fn, event)
        assert result["statusCode"] == 201, result["body"]
        close(db.connection(), student_id, code)

    return start


def raw_start(url: str) -> Callable[[str, Any], None]:
    local = threading.local()
    definitions = {code: exams.definition(code) for code in EXAMS}

    def start(sub: str, student_id: Any, code: str = EXAM) -> None:
        exam = definitions[code]
        conn = getattr(local, "conn", None)
        if conn is None:  # db's cursor: its statements are counted like the handler's
            conn = local.conn = psycopg.connect(url, autocommit=True, cursor_factory=db._Cursor)
        key = f"exam-start:{uuid.uuid4()}"
        conn.execute(
            """SELECT u.id, s.id FROM users u LEFT JOIN students s ON s.user_id = u.id
                WHERE u.sub = %s""",
            (sub,),
        ).fetchone()
        conn.execute("SELECT * FROM exam_definitions WHERE code = %s AND active", (code,))
        conn.execute(
            """SELECT p.offer FROM subscriptions s JOIN plans p ON p.code = s.plan_code
                WHERE s.student_id = %s AND s.status = 'ACTIVE'""",
            (student_id,),
        ).fetchone()
        wallet = conn.execute("SELECT id FROM wallets WHERE student_id = %s", (student_id,))
        wallet_id = wallet.fetchone()[0]  # type: ignore[index]
        seed = secrets.randbits(62)
        questions = json.dumps(exams.build_questions(exam, seed))
        with conn.transaction():
            conn.execute(ledger._LOCK_WALLET, (wallet_id,))
            conn.execute(ledger._ENTRY_BY_KEY, (wallet_id, key)).fetchone()
            conn.execute(
                """SELECT id FROM exam_attempts
                    WHERE student_id = %s AND exam_code = %s AND status = 'IN_PROGRESS'""",
                (student_id, code),
            ).fetchone()
            lots = conn.execute(ledger._LIVE_LOTS, (wallet_id,)).fetchall()
            entry = conn.execute(
                ledger._WRITE_SPEND,
                {
                    "wallet": wallet_id,
                    "credits": 1,
                    "key": key,
                    "purpose": f"exam:{code}",
                    "actor": None,
                    "after": sum(r[1] for r in lots) - 1,
                    "lots": [lots[0][0]],
                    "amounts": [1],
                },
            ).fetchone()
            conn.execute(
                """INSERT INTO exam_attempts (student_id, exam_code, status, seed, questions,
                                              deadline_at, debit_entry_id, started_by)
                   SELECT %s, %s, 'IN_PROGRESS', %s, %s, now() + interval '20 minutes', %s,
                          user_id FROM students WHERE id = %s""",
                (student_id, code, seed, questions, entry[0], student_id),  # type: ignore[index]
            )
        close(conn, student_id, code)

    return start


POOL_SIZES = {"BENCH-POOL-40": 40, "BENCH-POOL-10K": 10_000}


def pooled_exams(url: str) -> dict[str, str]:
    """Two exams alike but for their pool: 10 single-choice questions drawn from 40, or from
    10,000 (published questions, as authoring makes them). Returns {exam code: pool code}."""
    made = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for pool, size in POOL_SIZES.items():
            conn.execute("INSERT INTO question_pools (code, title) VALUES (%s, %s)", (pool, pool))
            conn.execute(
                """INSERT INTO questions (pool_code, name, version, status, ordinal, type, body,
                                          published_at)
                   SELECT %s, 'q' || lpad(n::text, 5, '0'), 1, 'PUBLISHED', n, 'single',
                          jsonb_build_object('type', 'single', 'prompt', 'Question ' || n,
                                             'prompt_html', '<p>Question ' || n || '</p>',
                                             'options', jsonb_build_array('a', 'b', 'c', 'd'),
                                             'answer', 0, 'shuffle', true),
                          now()
                     FROM generate_series(1, %s) AS n""",
                (pool, size),
            )
            code = pool.replace("BENCH-POOL", "BENCH-EXAM")
            components = [
                {
                    "key": "all",
                    "name": "All",
                    "pass_mark": 50,
                    "sources": [{"pool": pool, "count": 10}],
                }
            ]
            conn.execute(
                """INSERT INTO exam_definitions (code, course, language, level, title,
                                                 duration_minutes, passing_score, credit_cost,
                                                 min_offer, components, overdue_policy)
                   VALUES (%s, 'language', 'fr', 'B1', %s, 20, 50, 1, 'free', %s, 'autosubmit')""",
                (code, code, json.dumps(components)),
            )
            conn.execute(
                """INSERT INTO exam_versions (exam_code, version, definition)
                   SELECT code, 1, to_jsonb(d) - 'version' - 'active' FROM exam_definitions d
                    WHERE code = %s""",
                (code,),
            )
            made[code] = pool
    return made


def close(conn: Any, student_id: Any, code: str) -> None:
    conn.execute(
        """UPDATE exam_attempts SET status = 'ABANDONED'
            WHERE student_id = %s AND exam_code = %s AND status = 'IN_PROGRESS'""",
        (student_id, code),
    )


def latencies(
    start: Callable[..., None], who: tuple[str, Any], n: int, code: str = EXAM
) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        start(*who, code)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    with database() as url, remote_moto() as aws:
        os.environ["FEATURE_FLAGS_FILE"] = str(template.ROOT / "config" / "feature_flags.json")
        if os.environ.get("FRONT_DOOR") == "off":  # diagnosis: the stack without DynamoDB
            os.environ["IDEMPOTENCY_TABLE"] = ""
        from reussite.settings import get_settings

        get_settings.cache_clear()
        people = students(url, MANY)
        ours, raw = handler_start(), raw_start(url)
        hot = people[0]
        for warm in (ours, raw):  # connections, caches, imports
            latencies(warm, hot, 5)
        print(f"exam start, {WORKERS} concurrent workers, {SECONDS:.0f} s each")
        print(
            f"    {'scenario':14} {'raw SQL/s':>10} {'handler/s':>10} {'ratio':>6}  target >= 0.5"
        )
        ratios = []
        for name, pick in (
            ("hot wallet", lambda i, n: (*hot, EXAMS[i % len(EXAMS)])),
            ("many wallets", lambda i, n: (*people[(i * 251 + n) % MANY], EXAM)),
        ):

            def run_raw(i: int, n: int, pick: Any = pick) -> None:
                raw(*pick(i, n))

            def run_ours(i: int, n: int, pick: Any = pick) -> None:
                ours(*pick(i, n))

            base = throughput(WORKERS, SECONDS, run_raw)
            mine = throughput(WORKERS, SECONDS, run_ours)
            ratios.append(mine / base)
            verdict = "ok" if mine / base >= 0.5 else "UNDER"
            print(f"    {name:14} {base:10.0f} {mine:10.0f} {mine / base:6.2f}  {verdict}")
        solo = people[1]
        counts = []
        for start in (raw, ours):
            with db.counting() as statements:
                start(*solo)
            counts.append(statements.count - 1)  # less the bench's own close() of the attempt
        verdict = "ok" if counts[1] <= counts[0] else "OVER"
        print(f"statements per start: raw SQL {counts[0]}, handler {counts[1]}  {verdict}")
        raw_ms, our_ms = latencies(raw, solo, SAMPLES), latencies(ours, solo, SAMPLES)
        p50 = statistics.median(our_ms) - statistics.median(raw_ms)
        p99 = statistics.quantiles(our_ms, n=100)[98] - statistics.quantiles(raw_ms, n=100)[98]
        raw_p50, our_p50 = statistics.median(raw_ms), statistics.median(our_ms)
        print(
            f"warm latency, one worker, {SAMPLES} starts: raw SQL p50 {raw_p50:.2f} ms, "
            f"handler p50 {our_p50:.2f} ms"
        )
        print(
            f"handler overhead over the SQL: p50 {p50:.2f} ms (target < 2: "
            f"{'ok' if p50 < 2 else 'OVER'}), p99 {p99:.2f} ms"
        )
        ddb, table = aws.client("dynamodb"), os.environ["IDEMPOTENCY_TABLE"] or "none"
        round_trip = latencies(
            lambda *_: (
                ddb.list_tables()
                if table == "none"
                else ddb.get_item(TableName=table, Key={"id": {"S": "probe"}})
            ),
            hot,
            50,
        )
        print(
            f"of which DynamoDB (moto, own process): {statistics.median(round_trip):.2f} ms a "
            "round trip; Powertools makes two for each new key"
        )
        pooled = pooled_exams(url)
        exams._definitions.clear()
        by_pool = {}
        for code in pooled:
            latencies(ours, solo, 5, code)  # its definition cached, as in a warm container
            by_pool[code] = statistics.median(latencies(ours, solo, SAMPLES, code))
        small, large = by_pool["BENCH-EXAM-40"], by_pool["BENCH-EXAM-10K"]
        print(
            f"a start drawing 10 questions, handler p50: from a 40-question pool {small:.2f} ms, "
            f"from a 10,000-question pool {large:.2f} ms: {large / small:.2f}x (target <= 1.2: "
            f"{'ok' if large / small <= 1.2 else 'OVER'})"
        )
        print(f"debits without attempts: {exams.debit_gap()}")
        db.close()
        return 0 if min(ratios) >= 0.5 and p50 < 2 and large / small <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
