"""template.yaml is auditable: every function has its folder, build and sample event; every
queue its DLQ and alarm; resources are private and encrypted; one role per function."""

from __future__ import annotations

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


def test_http_functions_use_snapstart_and_the_jwt_authorizer() -> None:
    api = T.of_type("AWS::Serverless::HttpApi")["HttpApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "JwtAuthorizer"
    jwt_config = api["Auth"]["Authorizers"]["JwtAuthorizer"]["JwtConfiguration"]
    assert isinstance(jwt_config["issuer"], template.Tag)
    for fn in FUNCTIONS:
        if fn.routes:
            props = T.resources[fn.logical_id]["Properties"]
            assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
            assert props["AutoPublishAlias"]


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
