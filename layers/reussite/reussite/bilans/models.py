"""The questionnaire a family fills in (validated, 422 with field errors) and what the API
answers about a report."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeAlias
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reussite.bilans.catalogue import INTERESTS, LEVELS, STYLES, SUBJECTS

if TYPE_CHECKING:
    Level: TypeAlias = str
    Subject: TypeAlias = str
    Interest: TypeAlias = str
    Style: TypeAlias = str
else:  # the codes as enums in the OpenAPI document, from the one catalogue
    Level = Literal[tuple(LEVELS)]
    Subject = Literal[tuple(SUBJECTS)]
    Interest = Literal[tuple(INTERESTS)]
    Style = Literal[tuple(STYLES)]


class Questionnaire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    age: int = Field(ge=8, le=30)
    school_level: Level
    track: str | None = Field(default=None, max_length=100)
    average: float | None = Field(default=None, ge=0, le=20, description="out of 20")
    favourite_subjects: list[Subject] = Field(min_length=1, max_length=6)
    difficult_subjects: list[Subject] = Field(default_factory=list, max_length=6)
    interests: list[Interest] = Field(min_length=1, max_length=6)
    learning_style: Style
    weekly_study_hours: int = Field(ge=0, le=60)
    motivation: int = Field(ge=1, le=5)
    stress: int = Field(ge=1, le=5)
    career_ideas: str | None = Field(default=None, max_length=500)
    constraints: str | None = Field(default=None, max_length=500)

    @field_validator("favourite_subjects", "difficult_subjects", "interests")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("each choice at most once")
        return values


class BilanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: UUID | None = None  # a parent's child; a student asks for themself
    questionnaire: Questionnaire


class BilanAccepted(BaseModel):
    id: UUID
    status: Literal["PENDING", "COMPLETED", "FAILED"]


class Bilan(BaseModel):
    id: UUID
    student_id: UUID
    status: Literal["PENDING", "COMPLETED", "FAILED"]
    passes_done: int
    report_markdown: str | None
    failure_reason: str | None
    created_at: datetime
    finished_at: datetime | None
