"""Identity models: the caller as the token describes them, and as reussite knows them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reussite.identity.roles import STAFF_ROLES, Role
from reussite.inputs import HumanName, strip_unsafe

__all__ = ["STAFF_ROLES", "Principal", "Role", "User"]


class Principal(BaseModel):
    """The verified identity claims of the caller (from the JWT authorizer)."""

    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    role: Role

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str | None) -> str | None:
        """The identity provider's name, without control or bidi-override characters (it
        becomes a self-provisioned student's name, hence a certificate holder's)."""
        return (strip_unsafe(name) or None) if name is not None else None


class User(BaseModel):
    """A provisioned user; `student_id` is the user's own student profile (ELEVE)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    sub: str
    email: str | None
    name: str | None
    role: Role
    student_id: UUID | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class Child(BaseModel):
    student_id: UUID
    display_name: str
    has_own_login: bool


class Me(BaseModel):
    id: UUID
    role: Role
    email: str | None
    name: str | None
    student_id: UUID | None = None
    children: list[Child] | None = None


class NewStudent(BaseModel):
    display_name: HumanName


class CreatedStudent(BaseModel):
    student_id: UUID
    display_name: str
    link_code: str | None = Field(
        default=None,
        description="One-time code the child enters to link their own login (none once linked)",
    )
    link_code_expires_at: datetime | None = None


class LinkRequest(BaseModel):
    code: str = Field(min_length=4, max_length=40)


class LinkedStudent(BaseModel):
    student_id: UUID
    display_name: str
