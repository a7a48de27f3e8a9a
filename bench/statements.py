"""Statements per request path, counted on the real handlers (in-process, as Lambda calls them)
against PostgreSQL and moto, at a small and a larger size of what the caller owns: a cost that
grows with it shows as two different counts. tests/test_query_budgets.py asserts the same
budgets (and that no statement on a large table needs a full scan).

Run: make bench-statements
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any

from _common import database, remote_moto

from reussite import db
from reussite.identity import service as identity
from reussite.identity.models import Principal, Role
from reussite.ledger import service as ledger
from reussite.ledger.models import LotKind
from reussite_local import functions, template
from reussite_local.events import http_api_event
from reussite_local.tokens import principal_claims

FUNCTIONS = {fn.name: fn for fn in template.load().functions()}
# The budget of each operation, as tests/test_query_budgets.py asserts it.
BUDGETS = {
    "GET /v1/me/credits": 4,
    "POST /v1/exams/{code}/attempts": 9,
    "POST /v1/attempts/{id}/submit": 7,
    "GET /v1/me/certificates": 3,
    "refund of a spend": 6,
}


def counted(
    function: str, method: str, path: str, who: Principal, body: Any = None, key: str = ""
) -> tuple[int, Any]:
    event = http_api_event(
        method,
        path,
        claims=principal_claims(who),
        body=body,
        headers={"Idempotency-Key": key} if key else None,
    )
    with db.counting() as statements:
        answer = functions.invoke(FUNCTIONS[function], event)
    assert answer["statusCode"] < 300, answer
    return statements.count, json.loads(answer["body"])


def person(role: Role) -> Principal:
    sub = f"bench-{role.value.lower()}-{uuid.uuid4().hex[:8]}"
    return Principal(sub=sub, email=f"{sub}@example.test", name=sub, role=role)


def start_and_submit(who: Principal) -> tuple[int, int, dict[str, Any]]:
    start, attempt = counted(
        "exam_start", "POST", "/v1/exams/MATHS-PROP/attempts", who, {}, key=str(uuid.uuid4())
    )
    row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],))
    assert row is not None
    body = {
        "attempt_token": attempt["attempt_token"],
        "answers": {q["id"]: q["answer"] for q in row["questions"]},
    }
    submit, result = counted(
        "exam_submit", "POST", f"/v1/attempts/{attempt['id']}/submit", who, body
    )
    return start, submit, result


def issue(result: dict[str, Any], student: Any) -> None:
    """The certificate worker, on the message the submit queued."""
    message = {
        "attempt_id": result["id"],
        "student_id": str(student),
        "exam_code": "MATHS-PROP",
        "score": result["score"],
    }
    event = json.loads((functions.EVENTS / "certificate_issue.json").read_text())
    event["Records"][0]["body"] = json.dumps(message)
    event["Records"][0]["messageId"] = str(uuid.uuid4())
    functions.invoke(FUNCTIONS["certificate_issue"], event)


def main() -> int:
    with database(), remote_moto():
        os.environ["FEATURE_FLAGS_FILE"] = str(template.ROOT / "config" / "feature_flags.json")
        from reussite.settings import get_settings

        get_settings.cache_clear()
        rows: dict[str, tuple[str, int, str, int]] = {}

        parent = person(Role.PARENT)
        user = identity.resolve_user(parent)
        counts = []
        for size in (1, 5):
            while len(counts) < size:  # children, each with a grant and a spend
                child = identity.create_child(user, f"Enfant {len(counts)}").student_id
                wallet = ledger.wallet_of(child)
                ledger.grant(wallet, 3, LotKind.PURCHASE, key="p", purpose="pack")
                ledger.spend(wallet, 1, key="s", purpose="exam")
                counts.append(0)
            counts[size - 1] = counted("credits_api", "GET", "/v1/me/credits", parent)[0]
        rows["GET /v1/me/credits"] = ("1 child", counts[0], "5 children", counts[4])

        who = person(Role.ELEVE)
        student = identity.resolve_user(who).student_id
        ledger.grant(ledger.wallet_of(student), 10, LotKind.PURCHASE, key="pack", purpose="pack")
        results, starts, submits = [], [], []
        for _ in range(4):  # the first warms the container's caches, as in steady state
            start, submit, result = start_and_submit(who)
            starts.append(start)
            submits.append(submit)
            results.append(result)
        rows["POST /v1/exams/{code}/attempts"] = ("warm", starts[1], "warm", starts[3])
        rows["POST /v1/attempts/{id}/submit"] = ("warm", submits[1], "warm", submits[3])
        issue(results[0], student)
        one = counted("certificates_api", "GET", "/v1/me/certificates", who)
        for result in results[1:3]:
            issue(result, student)
        three = counted("certificates_api", "GET", "/v1/me/certificates", who)
        assert (len(one[1]["items"]), len(three[1]["items"])) == (1, 3)
        rows["GET /v1/me/certificates"] = ("1 certificate", one[0], "3 certificates", three[0])

        wallet = ledger.wallet_of(student)
        refunds = []
        for n in range(2):
            ledger.spend(wallet, 1, key=f"session-{n}", purpose="tutoring")
            with db.counting() as statements:
                ledger.refund(wallet, f"session-{n}", "cancelled")
            refunds.append(statements.count)
        rows["refund of a spend"] = ("first", refunds[0], "second", refunds[1])
        db.close()

    print("statements per request path (small size | larger size), budget from the tests")
    ok = True
    for operation, (small, a, large, b) in rows.items():
        good = a == b <= BUDGETS[operation]
        ok = ok and good
        print(
            f"  {operation:32} {small:>14} {a:3} | {large:>14} {b:3}"
            f"  budget {BUDGETS[operation]:3}  {'ok' if good else 'OVER'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
