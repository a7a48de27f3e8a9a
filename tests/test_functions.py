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
