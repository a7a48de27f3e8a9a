"""reussite's own check of an Open Badges 3.0.3 credential, written from 1EdTech's published
specification and its JSON Schema for AchievementCredential (on the VC Data Model 2.0): the
required properties, the contexts in their order, the types, `validFrom`, the closed set of
`AchievementSubject` and `IdentityObject` properties, and the `Achievement`'s own required
ones. Used by the tests; `validate` raises jsonschema's ValidationError naming what is wrong."""

from __future__ import annotations

from typing import Any

import jsonschema

DATE_TIME = {"type": "string", "format": "date-time"}
TYPES = {
    "oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]
}


def _typed(name: str) -> dict[str, Any]:
    return {"anyOf": [{"const": name}, {"type": "array", "contains": {"const": name}}]}


IDENTITY_OBJECT = {
    "type": "object",
    "properties": {
        "type": {"const": "IdentityObject"},
        "hashed": {"type": "boolean"},
        "identityHash": {"type": "string"},
        "identityType": {
            "anyOf": [
                {
                    "enum": [
                        "name",
                        "sourcedId",
                        "systemId",
                        "productId",
                        "userName",
                        "accountId",
                        "emailAddress",
                        "nationalIdentityNumber",
                        "isbn",
                        "issn",
                        "lisSourcedId",
                        "oneRosterSourcedId",
                        "sisSourcedId",
                        "ltiContextId",
                        "ltiDeploymentId",
                        "ltiToolId",
                        "ltiPlatformId",
                        "ltiUserId",
                        "identifier",
                    ]
                },
                {"type": "string", "pattern": "^ext:[A-Za-z0-9.\\-_]+$"},
            ]
        },
        "salt": {"type": "string"},
    },
    "required": ["type", "hashed", "identityHash", "identityType"],
    "additionalProperties": False,
}
IMAGE = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "type": {"const": "Image"}},
    "required": ["id", "type"],
}
PROFILE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": _typed("Profile"),
        "email": {"type": "string"},
    },
    "required": ["id", "type"],
}
ACHIEVEMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": _typed("Achievement"),
        "name": {"type": "string"},
        "description": {"type": "string"},
        "criteria": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "narrative": {"type": "string"}},
        },
        "image": IMAGE,
    },
    "required": ["id", "type", "criteria", "description", "name"],
}
ACHIEVEMENT_SUBJECT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": _typed("AchievementSubject"),
        "activityEndDate": DATE_TIME,
        "activityStartDate": DATE_TIME,
        "creditsEarned": {"type": "number"},
        "achievement": ACHIEVEMENT,
        "identifier": {"type": "array", "items": IDENTITY_OBJECT},
        "image": IMAGE,
        "licenseNumber": {"type": "string"},
        "narrative": {"type": "string"},
        "result": {"type": "array"},
        "role": {"type": "string"},
        "source": PROFILE,
        "term": {"type": "string"},
    },
    "required": ["type", "achievement"],
    "anyOf": [{"required": ["id"]}, {"required": ["identifier"]}],
    "additionalProperties": False,
}
CREDENTIAL = {
    "$schema": "https://json-schema.org/draft/2019-09/schema",
    "type": "object",
    "properties": {
        "@context": {
            "type": "array",
            "minItems": 2,
            "items": [
                {"const": "https://www.w3.org/ns/credentials/v2"},
                {
                    "pattern": "^https://purl\\.imsglobal\\.org/spec/ob/v3p0/context-3\\.0\\.3\\.json$"
                },
            ],
        },
        "id": {"type": "string"},
        "type": {
            "type": "array",
            "allOf": [
                {"contains": {"const": "VerifiableCredential"}},
                {"contains": {"enum": ["OpenBadgeCredential", "AchievementCredential"]}},
            ],
        },
        "name": {"type": "string"},
        "description": {"type": "string"},
        "issuer": PROFILE,
        "validFrom": DATE_TIME,
        "validUntil": DATE_TIME,
        "credentialSubject": ACHIEVEMENT_SUBJECT,
        "credentialStatus": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
            "required": ["id", "type"],
        },
    },
    "required": ["@context", "id", "type", "name", "credentialSubject", "issuer", "validFrom"],
    "not": {"anyOf": [{"required": ["issuanceDate"]}, {"required": ["expirationDate"]}]},
}


def validate(credential: dict[str, Any]) -> None:
    """Raise if `credential` is not an OB 3.0.3 OpenBadgeCredential on VC 2.0."""
    jsonschema.validate(
        credential,
        CREDENTIAL,
        cls=jsonschema.Draft201909Validator,
        format_checker=jsonschema.FormatChecker(),
    )
