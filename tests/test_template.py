"""template.yaml is auditable: every function has its folder, build and sample event; every
queue its DLQ and alarm; resources are private and encrypted; one role per function."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from reussite_local import template
from reussite_local.functions import EVENTS

T = template.load()
FUNCTIONS = T.functions()


def test_globals_target_python313_on_arm64_with_powertools_settings() -> None:
    glob = T.body["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert glob["Architectures"] == ["arm64"]
    env = glob["Environment"]["Variables"]
    assert {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    } <= set(env)


def test_every_function_has_code_build_and_sample_event() -> None:
    assert FUNCTIONS
    for fn in FUNCTIONS:
        assert (fn.code_uri / "app.py").is_file(), fn.name
        assert (fn.code_uri / "Makefile").is_file(), fn.name
        assert (EVENTS / f"{fn.name}.json").is_file(), fn.name
        res = T.resources[fn.logical_id]
        assert res["Metadata"]["BuildMethod"] == "makefile"
        assert "Role" not in res["Properties"], "each function gets its own generated role"


def test_http_functions_and_waited_on_workers_use_snapstart_and_the_jwt_authorizer() -> None:
    api = T.of_type("AWS::Serverless::HttpApi")["HttpApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "JwtAuthorizer"
    jwt_config = api["Auth"]["Authorizers"]["JwtAuthorizer"]["JwtConfiguration"]
    assert isinstance(jwt_config["issuer"], template.Tag)
    for fn in FUNCTIONS:
        # a person waits on these queue workers too: a certificate, a family's report
        if fn.routes or fn.name in ("certificate_issue", "bilan_worker"):
            props = T.resources[fn.logical_id]["Properties"]
            assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}, fn.name
            assert props["AutoPublishAlias"], fn.name


def test_every_queue_has_a_dead_letter_queue_and_an_alarm_on_it() -> None:
    queues = T.of_type("AWS::SQS::Queue")
    alarms = T.of_type("AWS::CloudWatch::Alarm").values()
    alarmed = {
        dim["Value"].value.split(".")[0]
        for alarm in alarms
        for dim in alarm["Properties"].get("Dimensions", [])
        if dim["Name"] == "QueueName"
    }
    work_queues = {k: v for k, v in queues.items() if "RedrivePolicy" in v["Properties"]}
    assert {"CertificateQueue", "BilanQueue"} <= set(work_queues)
    for name, queue in work_queues.items():
        dlq = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].value.split(".")[0]
        assert dlq in queues, name
        assert dlq in alarmed, f"{dlq} has no depth alarm"
        consumers = [fn for fn in FUNCTIONS for q in fn.queues if q.queue == name]
        for fn in consumers:
            assert queue["Properties"]["VisibilityTimeout"] >= 6 * fn.timeout


def test_idempotency_table_and_certificate_bucket_are_configured() -> None:
    table = T.resources["IdempotencyTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    bucket = T.resources["CertificatesBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}


def test_every_function_is_deployed_with_the_settings_it_requires(database_url: str) -> None:
    from reussite_local.functions import load_module

    for fn in template.load().functions():
        required = load_module(fn).REQUIRED_SETTINGS
        assert required, f"{fn.name} declares no settings"
        for name in required:
            assert any(alt in fn.environment for alt in name.split("|")), (
                f"{fn.name} requires {name}, which template.yaml does not set"
            )


def test_a_function_missing_a_setting_fails_at_init_naming_it(database_url: str) -> None:
    """Without IDEMPOTENCY_TABLE the front door would silently switch off: the function refuses
    to start instead (in a fresh interpreter, as a cold start)."""
    env = {k: v for k, v in os.environ.items() if k not in ("IDEMPOTENCY_TABLE",)}
    script = (
        "from reussite_local import functions, template\n"
        "fn = next(f for f in template.load().functions() if f.name == 'exam_start')\n"
        "functions.load_module(fn)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode != 0
    assert "MissingSettings: missing settings: IDEMPOTENCY_TABLE" in done.stderr


def test_locally_a_variable_the_user_set_wins_over_its_template_default(monkeypatch: Any) -> None:
    """`REPORT_WRITER=gemini make run` (as the docs say) is not overridden by the template's
    `offline` default, as a parameter override would win in AWS; resources stay the local ones."""
    from reussite_local.aws import Resources
    from reussite_local.stack import function_environment

    tmpl = template.load()
    resources = Resources(refs={"ReportWriter": "offline", "BilanQueue": "http://local/queue"})

    def env() -> dict[str, str]:
        return function_environment(tmpl.functions(), resources, tmpl.parameter_defaults())

    monkeypatch.setenv("REPORT_WRITER", "gemini")
    monkeypatch.setenv("BILAN_QUEUE_URL", "https://sqs.example/not-local")
    assert env()["REPORT_WRITER"] == "gemini"
    assert env()["BILAN_QUEUE_URL"] == "http://local/queue"  # a resource, not a parameter
    monkeypatch.delenv("REPORT_WRITER")
    assert env()["REPORT_WRITER"] == "offline"


def test_every_http_function_and_every_scheduled_job_is_covered_by_an_alarm() -> None:
    tmpl = template.load()
    alarms = tmpl.of_type("AWS::CloudWatch::Alarm")
    api_alarms = [
        a["Properties"]
        for a in alarms.values()
        if a["Properties"].get("Namespace") == "AWS/ApiGateway"
        and a["Properties"].get("MetricName") == "5xx"
    ]
    assert api_alarms, "no 5xx alarm on the HTTP API (which covers every HTTP function)"
    assert {"Name": "ApiId", "Value": template.Tag("Ref", "HttpApi")} in api_alarms[0]["Dimensions"]
    watched = {
        stat["MetricStat"]["Metric"]["Dimensions"][0]["Value"].value
        for stat in alarms["ScheduledJobErrorsAlarm"]["Properties"]["Metrics"]
        if "MetricStat" in stat
    }
    scheduled = {
        name
        for name, res in tmpl.of_type("AWS::Serverless::Function").items()
        if any(e["Type"] == "Schedule" for e in res["Properties"].get("Events", {}).values())
    }
    assert scheduled <= watched, f"scheduled jobs without an alarm: {scheduled - watched}"


def test_workers_connections_are_capped_at_the_figure_deploying_md_gives() -> None:
    """Every queue worker and scheduled job has reserved concurrency (one connection per
    container), and together they stay at the documented share of the database's budget."""
    workers = {
        fn.name: T.resources[fn.logical_id]["Properties"].get("ReservedConcurrentExecutions")
        for fn in FUNCTIONS
        if not fn.routes and fn.name != "db_migrate"  # migrations: run by hand, one at a time
    }
    assert all(workers.values()), workers
    documented = (template.ROOT / "docs" / "deploying.md").read_text()
    assert f"**{sum(workers.values())} connections at most**" in documented


def test_locally_a_queue_is_delivered_as_many_batches_at_once_as_lambda_would() -> None:
    """Lambda reads a queue five batches at a time, capped by the function's reserved
    concurrency: the local stack runs that many pollers per queue (a single one let the partner
    webhook queue back up under `make load`, where Lambda would have kept up)."""
    from reussite_local.aws import LocalAws
    from reussite_local.sqs import QueueDelivery

    aws = LocalAws()  # not started: a delivery's client needs no server until it polls
    pollers = {
        fn.name: QueueDelivery(aws, fn, source, "http://unused").concurrency
        for fn in FUNCTIONS
        for source in fn.queues
    }
    reserved = {
        fn.name: T.resources[fn.logical_id]["Properties"]["ReservedConcurrentExecutions"]
        for fn in FUNCTIONS
        if fn.queues
    }
    assert pollers == {name: min(5, cap) for name, cap in reserved.items()}
    assert pollers["webhook_delivery"] == 5


def test_memory_sizes_follow_the_measured_rule_and_match_deploying_md() -> None:
    """Where a person waits (HTTP) and where the work is CPU (the PDF worker) a function gets
    1,024 MB; the other workers wait on PostgreSQL or a model and keep the Globals' 512 MB.
    docs/deploying.md's table gives each function the size template.yaml deploys."""
    documented = (template.ROOT / "docs" / "deploying.md").read_text()
    default = T.body["Globals"]["Function"]["MemorySize"]
    assert default == 512
    for fn in FUNCTIONS:
        memory = T.resources[fn.logical_id]["Properties"].get("MemorySize", default)
        expected = 1024 if fn.routes or fn.name == "certificate_issue" else 512
        assert memory == expected, fn.name
        assert f"| `{fn.name}` | {memory} |" in documented, fn.name
