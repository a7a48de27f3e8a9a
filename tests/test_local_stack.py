"""`make run` as a user starts it: a subprocess serving template.yaml's functions on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import sync_playwright

from reussite_local.launcher import running_stack
from reussite_local.tokens import make_token
from tests.helpers import postgres_home

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    with postgres_home("stack") as home, running_stack(home) as running:
        yield running


def test_health_me_and_openapi_over_http(stack: dict[str, Any]) -> None:
    base = stack["base"]

    assert httpx.get(f"{base}/v1/health").json() == {"status": "ok"}

    anonymous = httpx.get(f"{base}/v1/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    forged = httpx.get(f"{base}/v1/me", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401

    token = make_token("stack-eleve", "ELEVE", "stack@example.test", "Zoé Stack")
    me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["role"] == "ELEVE" and me.json()["name"] == "Zoé Stack"

    preflight = httpx.options(f"{base}/v1/me", headers={"Origin": "http://localhost:5173"})
    assert preflight.status_code == 204
    assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"]
    assert me.headers["access-control-allow-origin"] == "*"

    spec = httpx.get(f"{base}/openapi.json").json()
    assert {"/v1/health", "/v1/me", "/v1/students", "/v1/students/link"} <= set(spec["paths"])


def test_demo_users_get_printed_tokens_that_work(stack: dict[str, Any]) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    token = state["tokens"]["demo-parent"]

    me = httpx.get(f"{stack['base']}/v1/me", headers={"Authorization": f"Bearer {token}"}).json()

    assert me["role"] == "PARENT"
    assert [c["display_name"] for c in me["children"]] == ["Yasmine Ben Salah"]


def test_functions_fire_on_demand(stack: dict[str, Any]) -> None:
    fired = httpx.post(f"{stack['base']}/_local/invoke/db_migrate", timeout=30)

    assert fired.status_code == 200
    assert fired.json() == {"function": "db_migrate", "result": {"applied": []}}


def test_moto_counts_the_calls_it_serves_by_operation(stack: dict[str, Any]) -> None:
    """AWS runs in its own process, which says what it served (the load bench's moto split)."""
    others, dynamodb, sqs = (
        httpx.get(f"{endpoint}/_local/moto-usage", timeout=10).json()
        for endpoint in stack["state"]["aws_endpoints"]
    )

    calls, cpu = dynamodb["DynamoDB_20120810.CreateTable"]  # the template's idempotency table
    assert calls == 1 and cpu > 0
    assert others["s3 PUT"][0] >= 1  # the certificate bucket and the school's logo
    assert sqs["AmazonSQS.CreateQueue"][0] >= 1  # the template's queues
    # DynamoDB and SQS each have a process of their own
    assert not any(op.startswith(("DynamoDB", "AmazonSQS")) for op in others)


def test_an_exam_starts_once_and_is_graded_over_http(stack: dict[str, Any]) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    auth = {"Authorization": f"Bearer {state['tokens']['demo-eleve']}"}
    start = f"{stack['base']}/v1/exams/FR-A1/attempts"

    first = httpx.post(start, headers={**auth, "Idempotency-Key": "stack-1"}, json={})
    again = httpx.post(start, headers={**auth, "Idempotency-Key": "stack-1"}, json={})
    attempt = first.json()
    graded = httpx.post(
        f"{stack['base']}/v1/attempts/{attempt['id']}/submit",
        headers=auth,
        json={"attempt_token": attempt["attempt_token"], "answers": {"q1": "0"}},
    )

    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == attempt and attempt["balance"] == 9
    assert graded.status_code == 200 and graded.json()["status"] == "GRADED"


def test_the_documented_authoring_flow_works_over_http(stack: dict[str, Any]) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    staff = {"Authorization": f"Bearer {state['tokens']['demo-assistante']}"}
    base = f"{stack['base']}/v1/admin"
    gift = (ROOT / "tests" / "fixtures" / "questions" / "every-type.gift").read_bytes()

    assert (
        httpx.put(
            f"{base}/question-pools/FR-B1-GRAMMAIRE", headers=staff, json={"title": "Grammaire B1"}
        ).status_code
        == 200
    )
    imported = httpx.post(
        f"{base}/question-pools/FR-B1-GRAMMAIRE/import?format=gift&publish=true",
        headers={**staff, "Content-Type": "text/plain"},
        content=gift,
    )
    assert imported.status_code == 200 and imported.json()["published"] == 10, imported.text
    exam = {
        "course": "language",
        "language": "fr",
        "level": "B1",
        "title": "Grammaire B1",
        "duration_minutes": 20,
        "passing_score": 60,
        "credit_cost": 1,
        "components": [
            {
                "key": "grammar",
                "name": "Grammaire",
                "pass_mark": 50,
                "sources": [{"pool": "FR-B1-GRAMMAIRE", "count": 8}],
            }
        ],
    }
    assert httpx.put(f"{base}/exams/FR-B1-G/draft", headers=staff, json=exam).status_code == 200
    published = httpx.post(f"{base}/exams/FR-B1-G/publish", headers=staff)
    assert published.status_code == 200 and published.json()["version"] == 1
    student = {"Authorization": f"Bearer {state['tokens']['demo-eleve']}"}
    listed = httpx.get(f"{stack['base']}/v1/exams?course=language&level=B1", headers=student)
    assert "FR-B1-G" in [e["code"] for e in listed.json()["items"]]


def test_a_certificate_is_issued_and_its_page_renders_in_chromium(stack: dict[str, Any]) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    auth = {"Authorization": f"Bearer {state['tokens']['demo-eleve']}"}
    start = f"{stack['base']}/v1/exams/MATHS-PROP/attempts"
    attempt = httpx.post(start, headers={**auth, "Idempotency-Key": "browser-1"}, json={}).json()
    with psycopg.connect(state["database_url"]) as conn:  # the answer keys, as only a test may
        row = conn.execute(
            "SELECT questions FROM exam_attempts WHERE id = %s", (attempt["id"],)
        ).fetchone()
    answers = {q["id"]: q["answer"] for q in row[0]}  # type: ignore[index]
    submission = {"attempt_token": attempt["attempt_token"], "answers": answers}
    submit = f"{stack['base']}/v1/attempts/{attempt['id']}/submit"
    graded = httpx.post(submit, headers=auth, json=submission)
    assert graded.json()["passed"]
    deadline, mine = time.monotonic() + 30, list[Any]()
    while time.monotonic() < deadline and not mine:  # the stack delivers the queue itself
        mine = httpx.get(f"{stack['base']}/v1/me/certificates", headers=auth).json()["items"]
        time.sleep(0.3)
    assert mine, "no certificate issued"
    url = f"{stack['base']}/v1/certificates/{mine[0]['code']}"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        opened = page.goto(url)
        assert opened is not None and opened.status == 200, page.content()
        holder, status = page.inner_text("#holder"), page.get_attribute("#status", "data-status")
        school = page.get_attribute("#brand", "data-school")
        logo_drawn = page.eval_on_selector("#logo", "img => img.complete && img.naturalWidth > 0")
        logo_shown = page.is_visible("#logo")
        heading_colour = page.eval_on_selector("h1", "h => getComputedStyle(h).color")
        signatory = page.inner_text("#signatory")
        preview = page.get_attribute('meta[property="og:image"]', "content")
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "certificate-verify-page.png"), full_page=True)
        browser.close()

    assert (holder, status) == ("Héloïse Martin", "valid")
    # the school's branding, from the stack's settings: name, logo from the bucket, colour
    assert school == "Réussite Académie" and logo_shown and logo_drawn
    assert heading_colour == "rgb(30, 60, 110)"  # BrandColour #1e3c6e
    assert signatory == "Sonia Ben Ammar, Directrice pédagogique"
    assert preview and preview.endswith("/image.png")
    badge = httpx.get(f"{url}/badge.png")
    assert badge.status_code == 200 and badge.content.startswith(b"\x89PNG")
    assert b"openbadgecredential" in badge.content


def test_scheduled_jobs_fire_on_demand_with_their_sample_events(stack: dict[str, Any]) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    headers = {"Authorization": f"Bearer {state['tokens']['demo-eleve']}"}
    balance = httpx.get(f"{stack['base']}/v1/me/credits", headers=headers).json()["balance"]
    assert 8 <= balance <= 10  # the demo pack, less the exams other tests here started

    fired = {
        name: httpx.post(f"{stack['base']}/_local/invoke/{name}", timeout=60).json()["result"]
        for name in ("credit_expiry", "monthly_allocation", "ledger_invariants", "attempt_sweeper")
    }

    assert fired["credit_expiry"]["lots"] == 0  # nothing is a year old yet
    assert fired["monthly_allocation"]["period"] == "2026-11-01"
    assert fired["ledger_invariants"]["wallet_mismatches"] == []
    assert fired["ledger_invariants"]["wallets_checked"] >= 3
    assert fired["attempt_sweeper"]["debit_gap"] == 0


def test_a_family_pays_through_the_konnect_page_and_the_webhook_over_http(
    stack: dict[str, Any],
) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    auth = {"Authorization": f"Bearer {state['tokens']['demo-parent']}"}
    body = {"product_code": "PACK_5", "student_id": state["child_student_id"]}

    order = httpx.post(
        f"{stack['base']}/v1/payments/checkout",
        json=body,
        headers=auth | {"Idempotency-Key": "stack-pack-5"},
        timeout=30,
    ).json()
    assert order["pay_url"].startswith(state["konnect"])
    page = httpx.post(order["pay_url"], timeout=30)  # the payer presses "Pay" on Konnect's page
    assert page.status_code == 200

    deadline = time.monotonic() + 20  # Konnect then calls the webhook through the gateway
    status = order["status"]
    while status != "PAID" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = httpx.get(
            f"{stack['base']}/v1/payments/orders/{order['id']}", headers=auth, timeout=10
        ).json()["status"]
    assert status == "PAID"
    credits = httpx.get(f"{stack['base']}/v1/me/credits", headers=auth, timeout=10).json()
    (yasmine,) = credits["wallets"]
    assert any(lot["kind"] == "PURCHASE" and lot["amount"] == 5 for lot in yasmine["lots"])
    # The school's systems hear of it: a signed payment.succeeded at the local receiver.
    from standardwebhooks import Webhook

    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        time.sleep(0.3)
        found = [
            w
            for w in httpx.get(f"{stack['base']}/_local/webhooks", timeout=10).json()
            if w["body"]["type"] == "payment.succeeded"
            and w["body"]["data"]["order_id"] == order["id"]
        ]
    (event,) = found
    raw = json.dumps(event["body"], separators=(",", ":"), ensure_ascii=False)
    Webhook(state["webhook_secret"]).verify(raw, event["headers"])


def test_the_seeded_coaches_are_bookable_right_after_make_run(stack: dict[str, Any]) -> None:
    """seed 001, scenario 2: coach Hélios, mathematics, online, J+3 at 14:00 (1 credit)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    auth = {"Authorization": f"Bearer {state['tokens']['demo-eleve']}"}
    coaches = httpx.get(f"{stack['base']}/v1/coaches", headers=auth, timeout=10).json()
    by_name = {c["display_name"]: c for c in coaches["items"]}
    assert by_name["Hélios"]["subjects"] == ["MATHEMATIQUES", "NSI"]
    assert by_name["Zénon"]["subjects"] == ["PHILOSOPHIE", "FRANCAIS"]
    assert all(len(by_name[n]["availability"]) == 7 for n in ("Hélios", "Zénon"))
    zone = ZoneInfo("Africa/Tunis")
    day = datetime.now(zone).date() + timedelta(days=3)
    starts = datetime(day.year, day.month, day.day, 14, tzinfo=zone)
    body = {
        "coach_id": by_name["Hélios"]["id"],
        "service_code": "COURS_EN_LIGNE",
        "subject": "MATHEMATIQUES",
        "starts_at": starts.isoformat(),
    }

    booked = httpx.post(
        f"{stack['base']}/v1/tutoring-sessions",
        json=body,
        headers=auth | {"Idempotency-Key": "stack-helios"},
        timeout=30,
    )

    assert booked.status_code == 201, booked.text
    assert booked.json()["coach_name"] == "Hélios" and booked.json()["credits"] == 1
    room = httpx.get(booked.json()["room_url"], timeout=10)  # three days early
    assert room.status_code == 409 and room.json()["code"] == "ROOM_NOT_OPEN"


def test_a_paid_family_gets_its_orientation_report_over_http(stack: dict[str, Any]) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    auth = {"Authorization": f"Bearer {state['tokens']['demo-parent']}"}
    questionnaire = {
        "age": 15,
        "school_level": "1ere-secondaire",
        "favourite_subjects": ["informatique", "maths"],
        "interests": ["technologie"],
        "learning_style": "kinesthesique",
        "weekly_study_hours": 8,
        "motivation": 3,
        "stress": 2,
    }
    accepted = httpx.post(
        f"{stack['base']}/v1/bilans",
        json={"student_id": state["child_student_id"], "questionnaire": questionnaire},
        headers=auth | {"Idempotency-Key": "stack-bilan"},
        timeout=30,
    )
    assert accepted.status_code == 202

    deadline = time.monotonic() + 30  # the local queue delivery runs the worker
    report = accepted.json()
    while report["status"] == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.3)
        report = httpx.get(
            f"{stack['base']}/v1/bilans/{report['id']}", headers=auth, timeout=10
        ).json()
    assert report["status"] == "COMPLETED"
    assert "1. **Informatique et numérique**" in report["report_markdown"]
    page = httpx.get(
        f"{stack['base']}/v1/bilans/{report['id']}",
        headers=auth | {"Accept": "text/html"},
        timeout=10,
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "<h2>Orientation" in page.text


def test_a_welcome_email_reads_in_chromium_from_the_local_mailbox(stack: dict[str, Any]) -> None:
    state = json.loads((stack["state_dir"] / "stack.json").read_text())
    auth = {"Authorization": f"Bearer {state['tokens']['demo-parent']}"}
    family = {"name": "Leïla Ben Salah", "children": [{"display_name": "Rayen Ben Salah"}]}
    signed_up = httpx.post(
        f"{stack['base']}/v1/families",
        headers={**auth, "Idempotency-Key": "mailbox-1"},
        json=family,
    )
    assert signed_up.status_code == 201, signed_up.text

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{stack['base']}/_local/mail")
        page.click("text=Bienvenue")
        subject, to, body = (page.inner_text(f"#{part}") for part in ("subject", "to", "body"))
        rendered = page.frame_locator("#html")  # the HTML part, as a mail client shows it
        greeting = rendered.locator("#content").inner_text()
        button = rendered.locator("a", has_text="bilan gratuit").get_attribute("href")
        lang = rendered.locator("html").get_attribute("lang")
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "local-mailbox-welcome.png"), full_page=True)
        browser.close()

    assert subject.startswith("Bienvenue") and to == "parent@reussite.local"
    assert "Bonjour Leïla Ben Salah" in body and "Rayen Ben Salah" in body
    assert "Bonjour Leïla Ben Salah" in greeting and "Rayen Ben Salah" in greeting
    assert lang == "fr" and button and button.startswith(("http://", "https://"))
    listed = httpx.get(f"{stack['base']}/_local/mail.json").json()
    assert listed[0]["subject"] == subject  # newest first


def test_make_demo_walks_a_family_through_everything(stack: dict[str, Any]) -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "reussite_local", "--state-dir", str(stack["state_dir"]), "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert demo.returncode == 0, demo.stdout + demo.stderr
    seen_steps = ("is PAID", "passed: True", "email to", "/_local/mail/", ": valid", "complete")
    coach_steps = ("ROOM_NOT_OPEN", "303 -> https://", "MATHEMATIQUES 3/5 (proportionnalité)")
    for seen in coach_steps:  # seed 001's scenario 5, the coach's workflow
        assert seen in demo.stdout, demo.stdout
    for seen in (*seen_steps, "credit_expiry"):
        assert seen in demo.stdout, demo.stdout
    assert "wallet_mismatches': []" in demo.stdout


def test_ctrl_c_stops_everything_including_postgres(stack: dict[str, Any]) -> None:
    proc = stack["proc"]
    pid_file = stack["state_dir"] / "pgdata" / "postmaster.pid"
    postgres_pid = int(pid_file.read_text().splitlines()[0])
    # AWS in processes of its own, as in Lambda: DynamoDB, SQS, and the other services
    moto_pids = _children(proc.pid, b"reussite_local.moto_server")
    assert len(moto_pids) == 3

    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)

    assert proc.returncode == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(_alive, [postgres_pid, *moto_pids])):
        time.sleep(0.1)
    assert not _alive(postgres_pid)
    assert not any(map(_alive, moto_pids))


def test_http_workers_serve_one_port_from_a_process_per_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`HTTP_WORKERS=2 make run`: two gateway processes on one port, keep-alive requests
    without Nagle's ~40 ms wait, and the webhook receiver's list shared by both."""
    monkeypatch.setenv("HTTP_WORKERS", "2")
    with postgres_home("stack-workers") as home, running_stack(home) as running:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = _children(running["proc"].pid, b"multiprocessing.spawn")
            time.sleep(0.2)
        assert len(workers) == 2
        with httpx.Client(base_url=running["base"], timeout=30) as client:
            timings = []
            for _ in range(30):  # one connection, kept alive
                t0 = time.perf_counter()
                assert client.get("/v1/health").status_code == 200
                timings.append(time.perf_counter() - t0)
            assert sorted(timings)[15] < 0.03, timings  # Nagle + delayed ACK: >= 0.04 each
            for n in range(6):  # on fresh connections, so both workers receive some
                assert httpx.post(f"{running['base']}/_local/webhooks", json={"n": n}).is_success
            received = client.get("/_local/webhooks").json()
        # the stack's own signed events (the demo family's payment) arrive when they arrive
        ours = [w["body"] for w in received if isinstance(w["body"], dict) and "n" in w["body"]]
        assert ours == [{"n": n} for n in reversed(range(6))]


def _children(pid: int, marker: bytes) -> list[int]:
    """The processes whose parent is `pid` and whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == pid and marker in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
