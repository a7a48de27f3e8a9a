"""Roles, kept free of pydantic so that jobs which only compare roles stay light to import."""

from enum import StrEnum


class Role(StrEnum):
    ELEVE = "ELEVE"
    PARENT = "PARENT"
    COACH = "COACH"
    ASSISTANTE = "ASSISTANTE"
    ADMIN = "ADMIN"


STAFF_ROLES = frozenset({Role.ASSISTANTE, Role.ADMIN})
