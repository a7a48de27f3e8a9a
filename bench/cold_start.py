"""Cold init of every handler in template.yaml beside a hello-world handler, in the same run.

Cold init = a fresh Python process imports the handler module and answers its sample event
(events/<name>.json), against a real PostgreSQL. HTTP handlers are compared with a hello-world
FastAPI + Mangum + boto3 handler, workers with a bare Powertools + boto3 handler.
Target: each ratio <= 1.25. Each figure is the median of ROUNDS runs, interleaved. ONLY=a,b
measures only the handlers named. Every process runs on the Lambda's own Python, 3.13, when
there is one (LAMBDA_PYTHON, else a `python3.13` on PATH that runs; else the bench's own), and
then the shared layer is compiled as `make build` ships it with that Python
(layers/reussite/Makefile; BYTECODE=0 measures it without, BYTECODE=1 compiles with another
Python). "event ms" is the first event's own share (the total less the import): what remains
of a cold start once init is restored from a SnapStart snapshot.

The processes run in a runtime environment shaped like Lambda's: a virtualenv holding boto3
(which the Lambda runtime provides, compiled), and on PYTHONPATH the two layers as deployed —
their pinned requirements and the domain package installed the way the layers' Makefiles do,
the shared layer compiled only when a build would be (without bytecode, and /opt read-only, a
cold start compiles every module of the layers it imports; PYTHONDONTWRITEBYTECODE keeps each
round as cold) — and each function's app.py copied alone. No development package inflates or
hides import costs.

Each round's event does the real work (`REAL_EVENTS`), and the bench checks it was done: a
sample event that names rows which do not exist would measure a 404 or a logged no-op. So
exam_start gets a fresh Idempotency-Key (a fixed one would replay from DynamoDB), exam_submit
an attempt started for the round and its token, certificate_issue a passed attempt (PDF stored,
credential signed), bilan_worker a pending report of the sample student (the template's default
`offline` writer: no model call; three passes), bilans_api that student's report to read,
payment_webhook a pack paid through the fake Konnect (read back, fulfilled, receipt mailed),
webhook_delivery an event for a school endpoint (signed and POSTed to a receiver here). The
sample student is a paying customer (credits, a paid plan: ARIA's entitlements are its own).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import database, remote_moto

from reussite import db
from reussite_local import template
from reussite_local.functions import EVENTS

HERE = Path(__file__).parent
ROOT = HERE.parent


def _python313() -> str:
    """A `python3.13` on PATH that runs, as the layer's Makefile finds one; else ''."""
    found = shutil.which("python3.13")
    check = [str(found), "-c", "import sys; assert sys.version_info[:2] == (3, 13)"]
    ok = found and subprocess.run(check, capture_output=True).returncode == 0
    return str(found) if ok else ""


# The Python every measured process runs: the Lambda's (3.13) when there is one. With one, the
# build compiles the shared layer, so the bench does too unless BYTECODE=0.
LAMBDA_PYTHON = os.environ.get("LAMBDA_PYTHON") or _python313()
BYTECODE = os.environ.get("BYTECODE", "1" if LAMBDA_PYTHON else "0") not in ("", "0")
_RUNS_ON = f"-{Path(LAMBDA_PYTHON).name}" if LAMBDA_PYTHON else ""
RUNTIME = ROOT / ".local" / f"bench-runtime{_RUNS_ON}"
DEPLOYED = ROOT / ".local" / f"bench-deployed{_RUNS_ON}"  # the layers and functions as deployed
LAYER = ROOT / "layers" / "reussite"
PDF_LAYER = ROOT / "layers" / "pdf"
NOT_REAL: dict[str, str] = {}
KONNECT: list[Any] = []  # the fake Konnect gateway the payment rounds pay through
ROUNDS = int(os.environ.get("ROUNDS", "9"))
TARGET = 1.25
PYTHON = Path(sys.executable)


def _requirements() -> str:
    return (LAYER / "requirements.txt").read_text() + (PDF_LAYER / "requirements.txt").read_text()


def _install(python: Path, *args: str, layers: tuple[Path, ...] = (LAYER, PDF_LAYER)) -> None:
    """pip install `layers`' pinned requirements (and `args`) with `python`."""
    requirements = [arg for layer in layers for arg in ("-r", str(layer / "requirements.txt"))]
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *requirements, *args], check=True)


def runtime_python() -> Path:
    """A virtualenv with only what a deployed function has; rebuilt when the pins change."""
    stamp = RUNTIME / "requirements.txt"
    python = RUNTIME / "bin" / "python"
    if not python.exists() or not stamp.exists() or stamp.read_text() != _requirements():
        maker = LAMBDA_PYTHON or sys.executable
        subprocess.run([maker, "-m", "venv", "--clear", str(RUNTIME)], check=True)
        _install(python, "boto3")
        stamp.write_text(_requirements())
    return python


def deployed(python: Path) -> list[Path]:
    """The two layers' packages as `make build` ships them (no bytecode, no boto3), reinstalled
    when the pins change; the domain package and the functions' app.py copied afresh. Returns
    the shared layer's directory, then the PDF layer's (Lambda merges both into /opt/python)."""
    packages, stamp = DEPLOYED / "python", DEPLOYED / "requirements.txt"
    pdf = DEPLOYED / "pdf" / "python"
    if not pdf.exists() or not stamp.exists() or stamp.read_text() != _requirements():
        shutil.rmtree(DEPLOYED, ignore_errors=True)
        for layer, target in ((LAYER, packages), (PDF_LAYER, pdf)):
            _install(python, "--no-compile", "--target", str(target), layers=(layer,))
            for provided in target.glob("boto*"):  # the runtime's, as the layer's Makefile says
                shutil.rmtree(provided)
        stamp.write_text(_requirements())
    shutil.rmtree(packages / "reussite", ignore_errors=True)
    shutil.copytree(
        LAYER / "reussite", packages / "reussite", ignore=shutil.ignore_patterns("__pycache__")
    )
    for leftover in (*packages.rglob("__pycache__"), *pdf.rglob("__pycache__")):
        shutil.rmtree(leftover, ignore_errors=True)
    if BYTECODE:  # the shared layer as `make build` ships it with a Python 3.13
        http_only = "/(fastapi|starlette|anyio|mangum|aws_lambda_powertools/event_handler)/"
        subprocess.run(
            [
                str(python),
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "unchecked-hash",
                "-x",
                http_only,
                str(packages),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    shutil.rmtree(DEPLOYED / "functions", ignore_errors=True)
    for fn in template.load().functions():
        module = fn.handler.rsplit(".", 1)[0] + ".py"
        (DEPLOYED / "functions" / fn.name).mkdir(parents=True)
        shutil.copy(fn.code_uri / module, DEPLOYED / "functions" / fn.name / module)
    return [packages, pdf]


def cold_ms(
    module: Path, event: Path, env: dict[str, str]
) -> tuple[float, float, float, str, float]:
    """(wall ms, peak resident MB, CPU ms, the AWS clients its first event had to build, init
    ms) of one fresh process's import and first event."""
    out = subprocess.run(
        [str(PYTHON), str(HERE / "_cold_child.py"), str(module), str(event)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, rss, cpu, built, init = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(rss), float(cpu), built, float(init)


def sample_user() -> object:
    from reussite.identity import service as identity
    from reussite.identity.models import Principal, Role

    return identity.resolve_user(
        Principal(
            sub="sample-eleve",
            email="sample.eleve@reussite.example",
            name="Élodie Sample",
            role=Role.ELEVE,
        )
    )


def passed_attempt() -> dict[str, object]:
    """A MATHS-PROP attempt the sample student has just passed, its certificate not issued."""
    from reussite.exams import service as exams

    user = sample_user()
    started = exams.start(user, "MATHS-PROP", f"bench-{uuid.uuid4()}")  # type: ignore[arg-type]
    row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (started.id,))
    assert row is not None and started.attempt_token
    answers = {q["id"]: q["answer"] for q in row["questions"]}
    graded = exams.submit(user, started.id, started.attempt_token, answers)  # type: ignore[arg-type]
    assert graded.passed
    return {
        "attempt_id": str(graded.id),
        "student_id": str(user.student_id),  # type: ignore[attr-defined]
        "exam_code": "MATHS-PROP",
        "score": graded.score,
    }


def round_event(name: str, sample: Path) -> tuple[Path, Callable[[], None] | None]:
    """This round's event for `name` (a file), and the check that it did its work. A sample
    event that names rows which do not exist would measure a 404 or a logged no-op: each of
    those is given rows of its own, made for the round."""
    make = REAL_EVENTS.get(name)
    if make is None:
        return sample, None
    event = json.loads(sample.read_text())
    check = make(event)
    fd, path = tempfile.mkstemp(prefix=f"cold-{name}-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(event, fh)
    return Path(path), check


def _new_start(event: dict[str, Any]) -> None:
    """exam_start: a fresh Idempotency-Key (a fixed one replays), the last round's attempt
    abandoned (a student has one open attempt per exam)."""
    db.connection().execute(
        """UPDATE exam_attempts SET status = 'ABANDONED' WHERE status = 'IN_PROGRESS'
             AND exam_code = 'FR-A1' AND student_id = %s""",
        (sample_user().student_id,),  # type: ignore[attr-defined]
    )
    event["headers"]["idempotency-key"] = str(uuid.uuid4())


def _submission(event: dict[str, Any]) -> Callable[[], None]:
    """exam_submit: an attempt started for the round, answered and submitted with its token."""
    from reussite.exams import service as exams

    user = sample_user()
    started = exams.start(user, "EN-A1", f"bench-{uuid.uuid4()}")  # type: ignore[arg-type]
    row = db.read_one("SELECT questions FROM exam_attempts WHERE id = %s", (started.id,))
    assert row is not None
    keyed = [q for q in row["questions"] if "answer" in q]  # a choice question's key
    answers = {q["id"]: q["answer"] for q in keyed[:1]}
    _path(event, f"/v1/attempts/{started.id}/submit", attempt_id=str(started.id))
    event["body"] = json.dumps({"attempt_token": started.attempt_token, "answers": answers})

    def graded() -> None:
        status = db.read_one("SELECT status FROM exam_attempts WHERE id = %s", (started.id,))
        assert status == {"status": "GRADED"}, status

    return graded


def _path(event: dict[str, Any], path: str, **parameters: str) -> None:
    """Point an HTTP API event at `path` (API Gateway gives it in three places)."""
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = parameters


def _certificate(event: dict[str, Any]) -> Callable[[], None]:
    """certificate_issue: a passed attempt whose certificate is not issued yet."""
    body = passed_attempt()
    event["Records"][0]["body"] = json.dumps(body)

    def issued() -> None:
        row = db.read_one(
            "SELECT pdf_stored_at, credential FROM certificates WHERE attempt_id = %s",
            (body["attempt_id"],),
        )
        assert row and row["pdf_stored_at"] and row["credential"], "the worker issued nothing"

    return issued


def _report(event: dict[str, Any]) -> Callable[[], None]:
    """bilan_worker: a pending report of the sample student (the template's default `offline`
    writer: no model call)."""
    report = pending_report()
    event["Records"][0]["body"] = json.dumps({"bilan_id": report})
    return lambda: _report_done(report)


def _report_done(report: str) -> None:
    row = db.read_one("SELECT status, passes_done FROM bilans WHERE id::text = %s", (report,))
    assert row is not None and (row["status"], row["passes_done"]) == ("COMPLETED", 3), row


def _report_read(event: dict[str, Any]) -> None:
    """bilans_api: the sample student reads a report of theirs."""
    report = pending_report()
    _path(event, f"/v1/bilans/{report}", bilan_id=report)


def _paid_payment(event: dict[str, Any]) -> Callable[[], None]:
    """payment_webhook: a credit pack ordered through the fake Konnect and paid there, so the
    webhook reads it back from Konnect, fulfils it and mails the receipt."""
    order = konnect_order("PACK_20")
    event["rawQueryString"] = f"payment_ref={order.payment_ref}"
    event["queryStringParameters"] = {"payment_ref": order.payment_ref}

    def fulfilled() -> None:
        row = db.read_one("SELECT status FROM orders WHERE id = %s", (order.id,))
        assert row == {"status": "PAID"}, row

    return fulfilled


def _delivery(event: dict[str, Any]) -> Callable[[], None]:
    """webhook_delivery: an event for the school's endpoint (the bench's receiver), signed and
    POSTed by the worker."""
    from reussite.webhooks import events

    with db.transaction() as conn:
        (delivery,) = events.emit(
            conn, "payment.succeeded", f"order:bench-{uuid.uuid4()}", {"bench": True}
        )
    event["Records"][0]["body"] = json.dumps({"delivery_id": str(delivery)})

    def delivered() -> None:
        row = db.read_one("SELECT status FROM webhook_deliveries WHERE id = %s", (delivery,))
        assert row == {"status": "DELIVERED"}, row

    return delivered


REAL_EVENTS: dict[str, Callable[[dict[str, Any]], Callable[[], None] | None]] = {
    "exam_start": _new_start,
    "exam_submit": _submission,
    "certificate_issue": _certificate,
    "bilan_worker": _report,
    "bilans_api": _report_read,
    "payment_webhook": _paid_payment,
    "webhook_delivery": _delivery,
}


def konnect_order(product: str, subjects: list[str] | None = None) -> Any:
    """An order of the sample student's through the fake Konnect, paid there, not yet settled."""
    from reussite.payments import checkout
    from reussite.payments.models import Provider

    order = checkout.checkout(
        sample_user(),  # type: ignore[arg-type]
        product,
        None,
        Provider.KONNECT,
        f"bench-{uuid.uuid4()}",
        subjects,
    )
    assert KONNECT and order.payment_ref
    KONNECT[0].complete(order.payment_ref)
    return order


def pending_report() -> str:
    """A PENDING orientation report of the sample student, as bilans.request stores it before
    queueing it (eligibility was checked there)."""
    from reussite_local.demo import QUESTIONNAIRE

    user = sample_user()
    row = db.read_one(
        """INSERT INTO bilans (student_id, owner_id, idempotency_key, questionnaire, status)
           VALUES (%s, %s, %s, %s, 'PENDING') RETURNING id""",
        (user.student_id, user.id, str(uuid.uuid4()), json.dumps(QUESTIONNAIRE)),  # type: ignore[attr-defined]
    )
    db.connection().commit()
    assert row is not None
    return str(row["id"])


def sample_student_is_a_paying_customer() -> None:
    """What the sample events' student needs for each function's real path: credits for the
    exams it starts, a paid plan (ARIA's entitlements, the reports), and a school endpoint
    subscribed to its events (a receiver in this process answering 204)."""
    from reussite.identity import service as identity
    from reussite.identity.models import Principal, Role
    from reussite.ledger import service as ledger
    from reussite.ledger.models import LotKind
    from reussite.payments import settlement
    from reussite.webhooks import endpoints

    student = sample_user().student_id  # type: ignore[attr-defined]
    ledger.grant(ledger.wallet_of(student), 100, LotKind.PURCHASE, key="bench", purpose="bench")
    plan = konnect_order("HYBRIDE", ["MATHEMATIQUES", "NSI"])
    assert settlement.settle_konnect(plan.payment_ref).final
    admin = identity.resolve_user(
        Principal(sub="bench-admin", email="admin@reussite.example", name="Bench", role=Role.ADMIN)
    )
    spec = endpoints.EndpointSpec(url=_receiver(), events=["payment.succeeded"])  # type: ignore[list-item]
    endpoints.register(admin, spec, "bench-endpoint")


def _receiver() -> str:
    """A school's webhook endpoint: accepts every POST."""

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/hooks"


def main() -> int:
    global PYTHON
    PYTHON = runtime_python()
    packages = deployed(PYTHON)
    with database() as url, remote_moto(providers=KONNECT):
        os.environ["FEATURE_FLAGS_FILE"] = str(ROOT / "config" / "feature_flags.json")
        from reussite.settings import get_settings

        get_settings.cache_clear()
        sample_student_is_a_paying_customer()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(
            PYTHONPATH=os.pathsep.join(map(str, packages)),
            PYTHONDONTWRITEBYTECODE="1",
            DATABASE_URL=url,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="WARNING",
            AWS_DEFAULT_REGION="eu-west-3",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
        )
        return measure(env)


def measure(env: dict[str, str]) -> int:
    baseline_http = (HERE / "baselines" / "hello_http.py", EVENTS / "identity_api.json")
    baseline_worker = (HERE / "baselines" / "hello_worker.py", EVENTS / "db_migrate.json")
    only = set(filter(None, os.environ.get("ONLY", "").split(",")))  # e.g. ONLY=exam_start
    targets = {}
    for fn in template.load().functions():
        if only and fn.name not in only:
            continue
        module = DEPLOYED / "functions" / fn.name / (fn.handler.rsplit(".", 1)[0] + ".py")
        kind = "http" if fn.routes else "worker"
        targets[fn.name] = (kind, module, EVENTS / f"{fn.name}.json")
    samples: dict[str, list[tuple[float, float, float, str, float]]] = {
        name: [] for name in [*targets, "hello_http", "hello_worker"]
    }
    for _ in range(ROUNDS):  # interleaved so drift hits every subject alike
        samples["hello_http"].append(cold_ms(*baseline_http, env))
        samples["hello_worker"].append(cold_ms(*baseline_worker, env))
        for name, (_, module, event) in targets.items():
            this_round, check = round_event(name, event)
            samples[name].append(cold_ms(module, this_round, env))
            if check is not None:  # the event did its work
                check()
    median = {name: statistics.median(v[0] for v in values) for name, values in samples.items()}
    peak = {name: max(v[1] for v in values) for name, values in samples.items()}
    cpu = {name: statistics.median(v[2] for v in values) for name, values in samples.items()}
    event = {  # the first event's own time: what is left of a cold start after a snapshot
        name: statistics.median(v[0] - v[4] for v in values) for name, values in samples.items()
    }
    late = {  # clients a snapshot taken after init would not hold
        name: sorted({c for v in values for c in v[3].split(",") if c != "-"})
        for name, values in samples.items()
    }
    version = subprocess.run(
        [str(PYTHON), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    compiled = "shared layer compiled" if BYTECODE else "no bytecode"
    print(
        f"cold init, median of {ROUNDS} fresh processes (import + first event), "
        f"Python {version}, {compiled}"
    )
    print(
        f"{'handler':24} {'kind':7} {'ms':>8} {'baseline ms':>12} {'ratio':>6} {'peak MB':>8} "
        f"{'CPU ms':>7} {'event ms':>8}  target <= {TARGET}"
    )
    worst = 0.0
    for name, (kind, _, _) in targets.items():
        base = median["hello_http" if kind == "http" else "hello_worker"]
        ratio = median[name] / base
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= TARGET else "OVER"
        if name in NOT_REAL:
            verdict += f" (not its real path: {NOT_REAL[name]})"
        if late[name]:
            verdict += f"; clients built on its first event, not at init: {', '.join(late[name])}"
        print(
            f"{name:24} {kind:7} {median[name]:8.1f} {base:12.1f} {ratio:6.2f} {peak[name]:8.1f} "
            f"{cpu[name]:7.0f} {event[name]:8.1f}  {verdict}"
        )
    for name in ("hello_http", "hello_worker"):
        print(
            f"{name:24} {'baseline':7} {median[name]:8.1f} {'':19} {peak[name]:8.1f} "
            f"{cpu[name]:7.0f} {event[name]:8.1f}"
        )
    built_late = [name for name in targets if late[name]]
    return 0 if worst <= TARGET and not built_late else 1


if __name__ == "__main__":
    sys.exit(main())
