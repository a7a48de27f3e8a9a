"""Every function of template.yaml imports and answers its sample event under events/."""

from __future__ import annotations

import json

import pytest

from reussite_local import functions, template

FUNCTIONS = template.load().functions()


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.name)
def test_function_answers_its_sample_event(fn: template.Function, database_url: str) -> None:
    result = functions.invoke(fn, functions.sample_event(fn))

    assert result is not None
    if fn.routes:  # an API Gateway response: a clear answer, never a server error
        assert result["statusCode"] < 500, result
        json.loads(result["body"])


def test_sample_eleve_is_provisioned_from_the_sample_event(database_url: str) -> None:
    fn = next(f for f in FUNCTIONS if f.name == "identity_api")
    result = functions.invoke(fn, functions.sample_event(fn))

    body = json.loads(result["body"])
    assert body["role"] == "ELEVE"
    assert body["name"] == "Élodie Sample"
    assert body["student_id"]


def test_concurrent_first_calls_build_each_aws_client_once(local_aws: object) -> None:
    """Sixteen threads asking at once for a cold container's clients and a secret: one client
    per service, one secrets provider, all threads handed the same ones."""
    import threading

    from reussite import aws
    from reussite.settings import get_settings

    kept = (aws._session, dict(aws._clients), aws._secrets)  # what loaded functions hold
    aws.reset()
    arn = get_settings().database_secret_arn or get_settings().signing_key_secret_arn
    assert arn
    barrier = threading.Barrier(16)
    seen: list[tuple[int, int, int, int]] = []

    def first_request() -> None:
        barrier.wait()
        aws.secret(arn)
        seen.append(
            (
                id(aws.client("s3")),
                id(aws.client("dynamodb")),
                id(aws.client("secretsmanager")),
                id(aws.secrets_provider()),
            )
        )

    threads = [threading.Thread(target=first_request) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    built = aws.secrets_provider().client is aws.client("secretsmanager")
    aws._session, aws._secrets = kept[0], kept[2]  # the functions' doors keep their clients
    aws._clients.clear()
    aws._clients.update(kept[1])

    assert len(seen) == 16 and len(set(seen)) == 1
    assert built


# The clients every event of these functions uses: built at init (where a SnapStart snapshot
# holds them), so the first event builds none (bench/cold_start checks that on real events).
BUILT_AT_INIT = {
    "exam_start": {"dynamodb", "secretsmanager"},
    "certificate_issue": {"dynamodb", "s3", "secretsmanager", "ses"},
    "bilan_worker": {"dynamodb", "secretsmanager", "ses"},
    "exam_submit": {"secretsmanager", "sqs"},
    "payment_webhook": {"dynamodb", "secretsmanager", "ses", "sqs"},
    "webhook_delivery": {"secretsmanager"},
}
_IMPORT_AND_LIST_CLIENTS = """
import importlib.util, sys
from reussite import aws
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(",".join(sorted(aws._clients)), "pydantic.v1" in sys.modules)
"""


def _init(name: str, env: dict[str, str]) -> tuple[set[str], bool]:
    """The layer's clients built by `name`'s init in a fresh process with `env`, and whether
    that init imported pydantic.v1."""
    import subprocess
    import sys

    fn = next(f for f in FUNCTIONS if f.name == name)
    module = fn.code_uri / (fn.handler.rsplit(".", 1)[0] + ".py")
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_AND_LIST_CLIENTS, str(module)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    clients, v1_imported = out.stdout.split()[-2:]
    return set(clients.split(",")), v1_imported == "True"


@pytest.mark.parametrize("name", sorted(BUILT_AT_INIT))
def test_functions_build_the_clients_every_event_uses_at_init(
    name: str, local_aws: object, database_url: str
) -> None:
    import os

    clients, v1_imported = _init(name, {**os.environ, "DATABASE_URL": database_url})

    assert clients == BUILT_AT_INIT[name]
    assert not v1_imported  # FastAPI's v1 probe (~100 ms) skipped: reussite.http.app


# Where a flag is evaluated on most events, its store and AppConfig client are built at init too.
FLAGS_AT_INIT = {"exam_start", "exams_api"}


@pytest.mark.parametrize("name", sorted(FLAGS_AT_INIT))
def test_functions_that_read_flags_build_the_appconfig_client_at_init(
    name: str, local_aws: object, database_url: str
) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "FEATURE_FLAGS_FILE"}  # as in AWS
    env.update(
        DATABASE_URL=database_url, APPCONFIG_APPLICATION="reussite", APPCONFIG_ENVIRONMENT="dev"
    )
    clients, _ = _init(name, env)

    assert "appconfigdata" in clients  # the container's one client (reussite.aws), at init
