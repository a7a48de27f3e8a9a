"""Exam start through the whole handler stack beside the raw SQL it performs, in the same run.

Ours: an API Gateway event -> the exam_start Lambda handler (Mangum -> FastAPI -> identity ->
feature flag -> Powertools idempotency on DynamoDB -> domain -> PostgreSQL), in-process.
DynamoDB is, in turn, moto in its own process and a double with a fixed latency per call
(bench/_dynamodb_double.py, DDB_LATENCY_MS, default 4 ms): moto's latency moves with load, the
double's does not, so the handler's own cost shows.
Baseline: the SQL a start performs (user, exam, offer and wallet reads; then lock the wallet,
look up the key, check for an open attempt, read live lots, write the debit, insert the attempt
with the caller's key) on a bare psycopg connection per worker.

Throughput: 8 worker *processes* (each its own interpreter, connection and DynamoDB client, as
8 Lambda containers would be) on one hot wallet (one student) and on many wallets; raw SQL, the
handler with its front door off, and with it on against each store. Each iteration closes the
attempt it opened (the same UPDATE in both), since a student has one open attempt per exam.
Latency: one process alternating raw SQL, the handler with the front door off and on, start by
start, so drift hits all three alike; the store's calls are timed on its client and taken out.
Beside them, raw SQL right after a store call (the call taken out): what a wait on the store
costs the work after it on this machine, raw or ours.
Lock hold is compared like for like: the door off beside raw SQL, the door on beside raw SQL
right after the same kind of store call (the door's claim ends just before the transaction
opens, and the store's server, on the same two cores, is still finishing it meanwhile).
Targets (../shared/DESIGN.md section 4): handler overhead excluding the store's calls < 2 ms p50;
at most 2 store calls per new key, 1 per replay, 0 for rejected input; statements and
wallet-lock hold time per start <= raw SQL's; throughput >= 0.5x raw SQL with the front door off.

Run: make bench-exam-start   (START_SECONDS, SAMPLES, DDB_LATENCY_MS to change the sizes)
"""

from __future__ import annotations

import json
import multiprocessing
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
from _dynamodb_double import dynamodb_double
from ledger import make_wallets

from reussite import db
from reussite.exams import service as exams
from reussite.ledger import service as ledger
from reussite_local import functions, template
from reussite_local.events import http_api_event

WORKERS = 8
SECONDS = float(os.environ.get("START_SECONDS", "4"))
SAMPLES = int(os.environ.get("SAMPLES", "300"))
LATENCY_MS = float(os.environ.get("DDB_LATENCY_MS", "4"))
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


def start_event(sub: str, code: str, key: str) -> dict[str, Any]:
    """API Gateway's event for a student starting exam `code` with Idempotency-Key `key`."""
    return http_api_event(
        "POST",
        f"/v1/exams/{code}/attempts",
        route_path="/v1/exams/{code}/attempts",
        claims={"sub": sub, "role": "ELEVE", "name": sub},
        body={},
        headers={"Idempotency-Key": key},
        path_parameters={"code": code},
    )


def handler_start() -> Callable[..., None]:
    fn = next(f for f in template.load().functions() if f.name == "exam_start")
    functions.load_module(fn)

    def start(sub: str, student_id: Any, code: str = EXAM) -> None:
        result = functions.invoke(fn, start_event(sub, code, str(uuid.uuid4())))
        assert result["statusCode"] == 201, result["body"]
        close(db.connection(), student_id, code)

    return start


RAW_HELD: list[float] = []  # how long each raw start held its wallet lock, in seconds


def front_door(on: bool) -> None:
    """Turn the exam_start handler's idempotency front door on or off in this process (the
    bench's switch, so both run alternately in one process; the function has no such
    setting: without its table it refuses to start)."""
    door = sys.modules["reussite_fn_exam_start"].start_once._door
    if not hasattr(door, "built"):
        door.built = door._guarded or door._build()
    door._guarded = door.built if on else door.work


def raw_start(url: str) -> Callable[[str, Any], None]:
    local = threading.local()
    definitions = {code: exams.definition(code) for code in EXAMS}

    def start(sub: str, student_id: Any, code: str = EXAM) -> None:
        exam = definitions[code]
        conn = getattr(local, "conn", None)
        if conn is None:  # db's cursor: its statements are counted like the handler's
            conn = local.conn = psycopg.connect(url, autocommit=True, cursor_factory=db._Cursor)
        key = str(uuid.uuid4())
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
        opened = time.perf_counter()
        with conn.transaction():
            conn.execute(ledger._LOCK_WALLET, (wallet_id,))
            conn.execute(ledger._ENTRY_BY_KEY, (wallet_id, f"exam-start:{key}")).fetchone()
            conn.execute(
                """SELECT id FROM exam_attempts
                    WHERE student_id = %s AND exam_code = %s AND status = 'IN_PROGRESS'
                      FOR UPDATE""",  # an open attempt found may be closed: locked, as ours
                (student_id, code),
            ).fetchone()
            lots = conn.execute(ledger._LIVE_LOTS, (wallet_id,)).fetchall()
            entry = conn.execute(
                ledger._WRITE_SPEND,
                {
                    "wallet": wallet_id,
                    "credits": 1,
                    "key": f"exam-start:{key}",
                    "purpose": f"exam:{code}",
                    "actor": None,
                    "after": sum(r[1] for r in lots) - 1,
                    "lots": [lots[0][0]],
                    "amounts": [1],
                },
            ).fetchone()
            conn.execute(  # with the caller's key, which replays a start (migration 0033)
                """INSERT INTO exam_attempts (student_id, exam_code, exam_version, status, seed,
                                              questions, deadline_at, debit_entry_id,
                                              started_by, start_key)
                   SELECT %s, %s, %s, 'IN_PROGRESS', %s, %s, now() + interval '20 minutes',
                          %s, user_id, %s FROM students WHERE id = %s
                   RETURNING id, started_at, deadline_at""",  # what its answer needs
                (student_id, code, exam.version, seed, questions, entry[0], key, student_id),  # type: ignore[index]
            ).fetchone()
        RAW_HELD.append(time.perf_counter() - opened)
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


def store_timer() -> list[float]:
    """Seconds of each call on the process's DynamoDB client (the one the front door uses),
    from its parameters' arrival to its parsed answer, appended as they end."""
    from reussite import aws

    spent: list[float] = []
    began: list[float] = []
    events = aws.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb", lambda **_: began.append(time.perf_counter()))
    events.register(
        "after-call.dynamodb", lambda **_: spent.append(time.perf_counter() - began.pop())
    )
    return spent


def quiet(env: dict[str, str]) -> None:
    """A worker process's environment; its metrics (EMF lines on stdout, as in Lambda) are
    still written, to nowhere, so they cost what they cost and do not flood the report."""
    os.environ.update(env)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the process's stdout until it ends


def prepared(mode: str, url: str) -> Callable[..., None]:
    """This process's start for `mode`: raw SQL, or the handler with the front door off or on."""
    if mode == "raw":
        return raw_start(url)
    start = handler_start()
    front_door(mode != "off")
    return start


def picker(scenario: str, people: list[tuple[str, Any]]) -> Callable[[int, int], tuple[Any, ...]]:
    """Worker `i`'s `n`th start: on the hot wallet an exam of its own; on many wallets a student
    of its own slice (two workers never start the same exam for one student at once)."""
    if scenario == "hot wallet":
        return lambda i, n: (*people[0], EXAMS[i % len(EXAMS)])
    return lambda i, n: (*people[i + WORKERS * (n % (len(people) // WORKERS))], EXAM)


def _throughput_worker(
    mode: str,
    scenario: str,
    i: int,
    people: list[Any],
    env: dict[str, str],
    barrier: Any,
    done: Any,
) -> None:
    quiet(env)
    start, pick = prepared(mode, env["DATABASE_URL"]), picker(scenario, people)
    for n in range(3):  # connections, caches, imports: a warm container
        start(*pick(i, n))
    barrier.wait()
    n, deadline = 0, time.perf_counter() + SECONDS
    while time.perf_counter() < deadline:
        start(*pick(i, n))
        n += 1
    done.put(n)


def throughput(mode: str, scenario: str, people: list[Any], env: dict[str, str]) -> float:
    """Starts per second of WORKERS processes running `mode` for SECONDS, once all are warm."""
    spawn = multiprocessing.get_context("spawn")
    barrier, done = spawn.Barrier(WORKERS), spawn.Queue()
    procs = [
        spawn.Process(
            target=_throughput_worker, args=(mode, scenario, i, people, env, barrier, done)
        )
        for i in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    return sum(_result(done, procs, SECONDS + 120)) / SECONDS


def after_store_call(raw: Callable[..., None]) -> Callable[..., None]:
    """Raw SQL's start right after one call to the store like the door's claim (a plain PutItem:
    the double refuses any other condition), on the client the door uses. The claim ends just
    before the handler's transaction opens; what follows a wait on the store runs slower on
    this machine (the store's server finishing its request on the same two cores, a CPU back
    from idle), raw SQL or ours, so the door on is also compared with this."""
    from reussite import aws

    store, table = aws.client("dynamodb"), os.environ["IDEMPOTENCY_TABLE"]

    def start(*args: Any) -> None:
        claim = {"id": {"S": f"bench-{uuid.uuid4()}"}, "status": {"S": "INPROGRESS"}}
        store.put_item(TableName=table, Item=claim)
        raw(*args)

    return start


def alternated(raw: Callable[..., None], ours: Callable[..., None], solo: Any) -> dict[str, Any]:
    """SAMPLES starts each of raw SQL, raw SQL after a store call, door off and door on,
    interleaved (the order flipped every round), with the store's time and calls of each door-on
    start."""
    spent = store_timer()
    modes = {"raw": raw, "raw+store": after_store_call(raw), "off": ours, "on": ours}
    out: dict[str, Any] = {mode: [] for mode in modes} | {"store": [], "calls": []}
    for n in range(SAMPLES + 10):
        for mode in list(modes) if n % 2 else list(modes)[::-1]:
            if mode in ("on", "off"):
                front_door(mode == "on")
            before = len(spent)
            t0 = time.perf_counter()
            modes[mode](*solo)
            took = time.perf_counter() - t0
            if n >= 10:  # the first ten warm the path
                if mode == "raw+store":  # the raw start alone, after its store call
                    took -= sum(spent[before:])
                out[mode].append(took * 1000)
                if mode == "on":
                    out["store"].append(sum(spent[before:]) * 1000)
                    out["calls"].append(len(spent) - before)
    front_door(True)
    out["store calls"] = store_calls(spent, solo)
    return out


def store_calls(spent: list[float], solo: Any) -> dict[str, Any]:
    """The store's calls for a new key, its replay, and a start refused as bad input."""
    fn = next(f for f in template.load().functions() if f.name == "exam_start")
    key, calls, statuses = str(uuid.uuid4()), [], []
    for code in (EXAM, EXAM, "NO-SUCH-EXAM"):
        before = len(spent)
        result = functions.invoke(fn, start_event(solo[0], code, key))
        statuses.append(result["statusCode"])
        calls.append(len(spent) - before)
    assert statuses[:2] == [201, 201], statuses
    close(db.connection(), solo[1], EXAM)
    return {"new key": calls[0], "replay": calls[1], "refused": calls[2], "status": statuses[2]}


def statements_and_hold(raw: Callable[..., None], ours: Callable[..., None], solo: Any) -> Any:
    """Statements per start and how long each held the wallet's lock (p50 ms), alternated start
    by start: raw SQL, raw SQL right after a call to the store like the door's claim (its call
    ends just before the handler's transaction opens, and the store's server, on this machine's
    two cores, is still finishing that request while the transaction runs), and the handler
    with the door off and on."""
    counts: dict[str, int] = {}
    holds: dict[str, list[float]] = {name: [] for name in HOLDS}
    after_store = after_store_call(raw)
    starts = {"raw": raw, "raw after a store call": after_store, "door off": ours, "door on": ours}
    for _ in range(SAMPLES):
        for name in HOLDS:
            if name.startswith("door"):
                front_door(name == "door on")
            RAW_HELD.clear()
            with db.counting() as statements:
                starts[name](*solo)
            holds[name] += statements.held or RAW_HELD
            counts[name] = statements.count - 1  # less the bench's close() of the attempt
    front_door(True)
    return counts, {name: statistics.median(h) * 1000 for name, h in holds.items()}


HOLDS = ("raw", "raw after a store call", "door off", "door on")


def _latency_worker(people: list[Any], pooled: list[str], env: dict[str, str], done: Any) -> None:
    """One process: the alternated latencies, statements and lock hold, store calls, and the
    pooled exams."""
    quiet(env)
    raw, ours = raw_start(env["DATABASE_URL"]), handler_start()
    front_door(True)
    solo = people[1]
    out = alternated(raw, ours, solo)
    out["statements"], out["held"] = statements_and_hold(raw, ours, solo)
    exams._definitions.clear()
    out["pooled"] = {}
    for code in pooled:
        for _ in range(5):  # its definition cached, as in a warm container
            ours(*solo, code)
        took = []
        for _ in range(SAMPLES):
            t0 = time.perf_counter()
            ours(*solo, code)
            took.append((time.perf_counter() - t0) * 1000)
        out["pooled"][code] = statistics.median(took)
    out["gap"] = exams.debit_gap()
    db.close()
    done.put(out)


def latency(people: list[Any], pooled: list[str], env: dict[str, str]) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    done = spawn.Queue()
    proc = spawn.Process(target=_latency_worker, args=(people, pooled, env, done))
    proc.start()
    return _result(done, [proc], SAMPLES * 3 + 300)[0]  # type: ignore[no-any-return]


def _result(done: Any, procs: list[Any], timeout: float) -> list[Any]:
    """One result from each of `procs`; a worker that dies instead fails the bench at once."""
    import queue

    results: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(results) < len(procs):
        try:
            results.append(done.get(timeout=1))
        except queue.Empty:
            dead = [proc.exitcode for proc in procs if proc.exitcode not in (None, 0)]
            assert not dead, f"a worker died (exit {dead[0]}): its traceback is above"
            assert time.monotonic() < deadline, "the workers did not finish in time"
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0, "a worker failed"
    return results


def p(values: list[float], q: int) -> float:
    return statistics.median(values) if q == 50 else statistics.quantiles(values, n=100)[q - 1]


def main() -> int:
    with database() as url, remote_moto() as aws, dynamodb_double(LATENCY_MS) as double:
        os.environ["FEATURE_FLAGS_FILE"] = str(template.ROOT / "config" / "feature_flags.json")
        people = students(url, MANY)
        pooled = list(pooled_exams(url))
        env = {**os.environ, "DATABASE_URL": url}
        stores = {
            "moto": {**env, "AWS_ENDPOINT_URL_DYNAMODB": aws.endpoint_for("dynamodb")},
            f"double ({LATENCY_MS:g} ms/call)": {**env, "AWS_ENDPOINT_URL_DYNAMODB": double},
        }
        print(f"exam start, {WORKERS} worker processes, {SECONDS:.0f} s each, starts per second")
        names = ["raw SQL", "door off", *(f"on, {store.split(' (')[0]}" for store in stores)]
        print(f"    {'scenario':14}" + "".join(f"{n:>14}" for n in names) + "   off/raw (>= 0.5)")
        ratios = []
        for scenario in ("hot wallet", "many wallets"):
            base = throughput("raw", scenario, people, env)
            off = throughput("off", scenario, people, env)
            on = [throughput("on", scenario, people, e) for e in stores.values()]
            ratios.append(off / base)
            verdict = "ok" if off / base >= 0.5 else "UNDER"
            figures = "".join(f"{v:14.0f}" for v in (base, off, *on))
            print(f"    {scenario:14}{figures}   {off / base:.2f} {verdict}")
        print(
            "    (with the door on, the ratios to raw SQL: "
            + ", ".join(f"{v / base:.2f}" for v in on)
            + " on many wallets)"
        )
        ok = min(ratios) >= 0.5
        for store, store_env in stores.items():
            ok &= report(store, latency(people, pooled, store_env))
        return 0 if ok else 1


def report(store: str, out: dict[str, Any]) -> bool:
    """Print one store's latency figures; whether each met its target."""
    raw_p50 = p(out["raw"], 50)
    ex_store = [t - s for t, s in zip(out["on"], out["store"], strict=True)]
    over_on, over_off = p(ex_store, 50) - raw_p50, p(out["off"], 50) - raw_p50
    print(f"\nwarm latency against {store}, one process, {SAMPLES} starts of each, alternated:")
    for name, key in (("raw SQL", "raw"), ("door off", "off"), ("door on", "on")):
        print(f"    {name:14} p50 {p(out[key], 50):6.2f} ms  p99 {p(out[key], 99):6.2f} ms")
    print(
        f"    of which store p50 {p(out['store'], 50):6.2f} ms  p99 {p(out['store'], 99):6.2f} ms"
        f"  ({statistics.mean(out['calls']):.1f} calls a start)"
    )
    print(
        f"    handler overhead excluding the store: p50 {over_on:.2f} ms with the door on, "
        f"{over_off:.2f} ms off (target < 2: {'ok' if over_on < 2 else 'OVER'})"
    )
    after = p(out["raw+store"], 50)
    print(
        f"    raw SQL after a store call, the call taken out: p50 {after:.2f} ms "
        f"(+{after - raw_p50:.2f} ms on raw SQL alone); the door on's overhead beside it "
        f"{p(ex_store, 50) - after:.2f} ms"
    )
    calls, counts, held = out["store calls"], out["statements"], out["held"]
    calls_ok = calls["new key"] <= 2 and calls["replay"] <= 1 and calls["refused"] == 0
    print(
        f"    store calls: new key {calls['new key']}, replay {calls['replay']}, refused input "
        f"{calls['refused']} (HTTP {calls['status']})  {'ok' if calls_ok else 'OVER'}"
    )
    counts_ok = counts["door on"] <= counts["raw"] and counts["door off"] <= counts["raw"]
    # like for like: the door off beside raw SQL; on, beside raw SQL after a store call
    held_ok = held["door off"] <= held["raw"] and held["door on"] <= held["raw after a store call"]
    print(
        f"    statements per start: raw SQL {counts['raw']}, handler {counts['door on']}  "
        f"{'ok' if counts_ok else 'OVER'}"
    )
    print(
        f"    wallet lock held per start, p50: raw SQL {held['raw']:.2f} ms, handler door off "
        f"{held['door off']:.2f} ms; raw SQL after a store call "
        f"{held['raw after a store call']:.2f} ms, handler door on {held['door on']:.2f} ms  "
        f"{'ok' if held_ok else 'OVER'}"
    )
    small, large = out["pooled"]["BENCH-EXAM-40"], out["pooled"]["BENCH-EXAM-10K"]
    print(
        f"    10 questions drawn, handler p50: from 40 {small:.2f} ms, from 10,000 {large:.2f} "
        f"ms: {large / small:.2f}x (target <= 1.2)"
    )
    print(f"    debits without attempts: {out['gap']}")
    return over_on < 2 and calls_ok and counts_ok and held_ok and large / small <= 1.2


if __name__ == "__main__":
    sys.exit(main())
