"""`make demo`: one family through everything, against the running local stack (`make run`).

Leïla (demo-parent) buys a credit pack for her daughter Yasmine through the fake Konnect page,
Yasmine passes an exam, the certificate arrives by email and is verified publicly, Leïla asks
for an orientation report and reads it, and a year later the unused credits expire.

Two things only a local demo may do are said when they happen: it plays a perfect student by
reading the answer key from the local database, and it moves a lot's expiry into the past
("time travel") before firing the daily expiry job.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg.rows import dict_row

QUESTIONNAIRE = {
    "age": 16,
    "school_level": "2e-secondaire",
    "track": "Sciences expérimentales",
    "average": 14.5,
    "favourite_subjects": ["svt", "physique"],
    "difficult_subjects": ["francais"],
    "interests": ["sante", "sciences"],
    "learning_style": "visuel",
    "weekly_study_hours": 9,
    "motivation": 4,
    "stress": 3,
    "career_ideas": "Médecin ou pharmacienne",
}


class Demo:
    def __init__(self, state_dir: Path) -> None:
        self.state = json.loads((state_dir / "stack.json").read_text())
        self.base = self.state["url"]
        self.http = httpx.Client(base_url=self.base, timeout=30)
        self.step = 0

    def auth(self, who: str, key: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.state['tokens'][who]}"}
        if key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return headers

    def say(self, title: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {title}", flush=True)

    def show(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def call(self, method: str, path: str, who: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if who:
            headers = self.auth(who, key=method == "POST") | headers
        response = self.http.request(method, path, headers=headers, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def until(self, what: str, probe: Any, seconds: float = 60) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}")

    def db(self) -> psycopg.Connection[dict[str, Any]]:
        return psycopg.connect(self.state["database_url"], autocommit=True, row_factory=dict_row)

    def run(self) -> None:
        child = self.state["child_student_id"]
        print(f"reussite demo against {self.base}")

        self.say("Leïla looks at the products and buys PACK_10 for Yasmine with Konnect")
        products = self.call("GET", "/v1/products")["items"]
        pack = next(p for p in products if p["code"] == "PACK_10")
        self.show(f"{pack['name']}: {pack['price_minor'] / 1000:.3f} {pack['currency']}")
        order = self.call(
            "POST",
            "/v1/payments/checkout",
            "demo-parent",
            json={"product_code": "PACK_10", "student_id": child, "provider": "konnect"},
        )
        self.show(f"order {order['reference']} -> pay at {order['pay_url']}")
        self.http.post(order["pay_url"])  # she presses "Pay" on Konnect's page
        self.show("paid on the Konnect page; Konnect calls the webhook, reussite verifies")
        paid = self.until(
            "the payment",
            lambda: (
                (o := self.call("GET", f"/v1/payments/orders/{order['id']}", "demo-parent"))[
                    "status"
                ]
                == "PAID"
                and o
            ),
        )
        self.show(f"order {paid['reference']} is {paid['status']}")
        self.show(f"Yasmine's balance: {self.balance(child)} credits")
        self.mailed("the payment email", paid["reference"])

        self.say("Leïla starts MATHS-PROP for Yasmine; Yasmine answers and submits")
        attempt = self.call(
            "POST", "/v1/exams/MATHS-PROP/attempts", "demo-parent", json={"student_id": child}
        )
        self.show(
            f"attempt {attempt['id']}, {len(attempt['questions'])} questions, no answers in it"
        )
        self.show("(a perfect student: the demo reads the answer key from the local database)")
        with self.db() as conn:
            row = conn.execute(
                "SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],)
            ).fetchone()
        assert row is not None
        answers = {q["id"]: str(q["answer"]) for q in row["questions"]}
        result = self.call(
            "POST",
            f"/v1/attempts/{attempt['id']}/submit",
            "demo-parent",
            json={"attempt_token": attempt["attempt_token"], "answers": answers},
        )
        self.show(f"graded on the server: {result['score']} %, passed: {result['passed']}")

        self.say("The certificate is issued by the queue worker and emailed")
        certificate = self.until(
            "the certificate",
            lambda: next(
                (
                    c
                    for c in self.call("GET", "/v1/me/certificates", "demo-parent")["items"]
                    if c["status"] == "valid"
                ),
                None,
            ),
        )
        self.show(f"certificate {certificate['code']}: {certificate['qualification']}")
        self.mailed("the certificate email", certificate["code"])

        self.say("Anyone verifies it with the code (public page)")
        verified = self.call("GET", f"/v1/certificates/{certificate['code']}")
        self.show(f"{verified['holder_name']} — {verified['qualification']}: {verified['status']}")
        self.show(f"page: {self.base}/v1/certificates/{certificate['code']} (open it in a browser)")

        self.say("Leïla asks for Yasmine's orientation report (her HYBRIDE plan is paid)")
        response = self.http.post(
            "/v1/bilans",
            json={"student_id": child, "questionnaire": QUESTIONNAIRE},
            headers=self.auth("demo-parent", key=True),
        )
        if response.status_code == 409:
            self.show("already asked for this year (the demo ran before): one report a year")
        else:
            accepted = response.json()
            self.show(f"202 at once: report {accepted['id']} is {accepted['status']}")
            report = self.until(
                "the report",
                lambda: (
                    (r := self.call("GET", f"/v1/bilans/{accepted['id']}", "demo-parent"))["status"]
                    != "PENDING"
                    and r
                ),
            )
            self.show(f"{report['status']} after the worker's three passes:")
            for line in report["report_markdown"].splitlines()[:12]:
                self.show(f"  | {line}")
            self.show(f"page: {self.base}/v1/bilans/{accepted['id']} (with Leïla's token)")
            self.mailed("the report email", accepted["id"])

        self.say("Yasmine asks ARIA, her tutor, about bubble sort in NSI, and rates the answer")
        conversation = self.call(
            "POST",
            "/v1/aria/conversations",
            "demo-parent",
            json={"subject": "NSI", "student_id": child},
        )
        said = self.call(
            "POST",
            f"/v1/aria/conversations/{conversation['id']}/messages",
            "demo-parent",
            json={"message": "Explique-moi l'algorithme de tri à bulles"},
        )
        for line in said["reply"]["content"].splitlines()[:6]:
            self.show(f"  ARIA | {line}")
        self.call(
            "POST",
            f"/v1/aria/messages/{said['reply']['id']}/feedback",
            "demo-parent",
            json={"helpful": True},
        )
        self.show(f"rated 👍; {said['remaining_today']} messages left today")

        self.coach_scenario(child)

        self.say("A year later: Yasmine's pack expires")
        before = self.balance(child)
        self.show("(time travel: the demo moves the pack's expiry to yesterday in the database)")
        with self.db() as conn:
            conn.execute(
                """UPDATE credit_lots SET granted_at = now() - interval '13 months',
                          expires_at = now() - interval '1 day'
                    WHERE id = (SELECT lot_id FROM orders WHERE id = %s)""",
                (order["id"],),
            )
        fired = self.call("POST", "/_local/invoke/credit_expiry")
        self.show(f"credit_expiry: {fired['result']}")
        self.show(f"Yasmine's balance: {before} -> {self.balance(child)} credits")
        checked = self.call("POST", "/_local/invoke/ledger_invariants")["result"]
        self.show(f"ledger invariant check: {checked}")
        print("\ndemo complete", flush=True)

    def coach_scenario(self, child: str) -> None:
        """seed 001, scenarios 2 and 5: a booking with coach Hélios, then his workflow."""
        self.say("Leïla books coach Hélios for Yasmine: maths, online, in three days at 14:00")
        coaches = self.call("GET", "/v1/coaches", "demo-parent")["items"]
        helios = next(c for c in coaches if c["display_name"] == "Hélios")
        self.show(f"Hélios teaches {', '.join(helios['subjects'])}")
        zone = ZoneInfo("Africa/Tunis")
        day = datetime.now(zone).date() + timedelta(days=3)
        booked = None
        for hour in range(14, 20):  # a slot taken by an earlier run of the demo: the next one
            starts = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
            response = self.http.post(
                "/v1/tutoring-sessions",
                json={
                    "coach_id": helios["id"],
                    "service_code": "COURS_EN_LIGNE",
                    "subject": "MATHEMATIQUES",
                    "starts_at": starts.isoformat(),
                    "student_id": child,
                },
                headers=self.auth("demo-parent", key=True),
            )
            if response.status_code == 201:
                booked = response.json()
                break
        if booked is None:
            raise RuntimeError("no free slot with Hélios in three days")
        self.show(f"booked {booked['starts_at']} for {booked['credits']} credit")
        room = self.http.get(booked["room_url"], follow_redirects=False)
        self.show(
            f"the room link now: {room.status_code} {room.json()['code']} (opens 10 min ahead)"
        )

        self.say("Hélios opens his agenda and Yasmine's file to prepare the lesson")
        agenda = self.call("GET", "/v1/coach/agenda", "demo-coach")["items"]
        entry = next(s for s in agenda if s["id"] == booked["session_id"])
        student = entry["bookings"][0]["student"]
        self.show(f"agenda: {entry['subject']} at {entry['starts_at']} with {student}")
        file = self.call("GET", f"/v1/students/{child}/file", "demo-coach")
        self.show(
            f"file: {file['name']}, {file['school_level']}, {len(file['sessions'])} session(s), "
            f"{len(file['exam_results'])} exam result(s) in his subjects"
        )
        self.show("(time travel: the demo moves the session to start in 5 minutes)")
        with self.db() as conn:
            conn.execute(
                """UPDATE tutoring_sessions SET starts_at = now() + interval '5 minutes',
                          ends_at = now() + interval '65 minutes' WHERE id = %s""",
                (booked["session_id"],),
            )
        room = self.http.get(entry["room_url"], follow_redirects=False)
        self.show(
            f"the same link for coach and student: {room.status_code} -> {room.headers['location']}"
        )

        self.say("After the lesson Hélios writes his report and records Yasmine's progress")
        with self.db() as conn:
            conn.execute(
                """UPDATE tutoring_sessions SET starts_at = now() - interval '70 minutes',
                          ends_at = now() - interval '10 minutes' WHERE id = %s""",
                (booked["session_id"],),
            )
        self.call(
            "POST",
            f"/v1/coach/sessions/{booked['session_id']}/report",
            "demo-coach",
            json={"report": "Proportionnalité revue ; exercices 3 à 7 à refaire."},
        )
        self.call(
            "PUT",
            f"/v1/coach/sessions/{booked['session_id']}/progress/{child}",
            "demo-coach",
            json={"level": 3, "note": "Progrès nets", "skills": ["proportionnalité"]},
        )
        progress = self.call("GET", f"/v1/students/{child}/progress", "demo-parent")["items"]
        latest = progress[0]
        self.show(
            f"Leïla sees it: {latest['subject']} {latest['level']}/5 "
            f"({', '.join(latest['skills'])}) by {latest['coach_name']}"
        )

    def balance(self, student_id: str) -> int:
        credits = self.call("GET", "/v1/me/credits", "demo-parent")
        wallet = next(w for w in credits["wallets"] if w["student_id"] == student_id)
        return int(wallet["balance"])

    def email_with(self, text: str) -> dict[str, Any] | None:
        from reussite_local.mailbox import parse

        data = httpx.get(f"{self.state['aws_endpoint']}/moto-api/data.json").json()
        return next((m for m in reversed(parse(data)) if text in m["body"]), None)

    def mailed(self, what: str, text: str) -> None:
        """Wait for the email whose text holds `text` and say where to read it."""
        mail = self.until(what, lambda: self.email_with(text))
        self.show(f"email to {', '.join(mail['to'])}: {mail['subject']!r}")
        self.show(f"read it in the local mailbox: {self.base}/_local/mail/{mail['n']}")


def main(state_dir: Path) -> int:
    try:
        Demo(state_dir).run()
    except (RuntimeError, httpx.HTTPError, OSError) as exc:
        print(f"\ndemo stopped: {exc}", file=sys.stderr)
        if isinstance(exc, FileNotFoundError | httpx.ConnectError):
            print("Is the stack running? Start it with `make run` first.", file=sys.stderr)
        return 1
    return 0
