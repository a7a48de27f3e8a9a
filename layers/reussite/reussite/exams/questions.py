"""The question types staff author, as Moodle's quiz knows them: single and multiple choice,
true/false, numeric (a tolerance, units), short answer (several accepted answers; case, accents
and spacing per question), gap-fill (cloze: several gaps, each graded), matching and ordering.

`Body` validates what an author writes (bounded, every key consistent with its options). The
runtime, pydantic-free for the functions' cold paths, is in `scoring` (re-exported here):
- `prepare` turns a published question into the attempt's copy: its options shuffled from the
  attempt's seed, the answer key remapped to the shuffled order (stored with the attempt only);
- `score` grades one answer to a fraction between 0 and 1, normalising it per type first. Odd
  input (a 5,000-digit number, "²", a list where a word was expected) scores 0, never raises.

`public` is the question as a student sees it: never its key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reussite.exams.scoring import (  # the runtime, re-exported for authoring and tests
    GAP,
    MAX_OPTIONS,
    TYPES,
    ascii_digits,
    model_answer,
    prepare,
    public,
    score,
)

__all__ = ["TYPES", "Body", "ascii_digits", "model_answer", "prepare", "public", "score"]

Text = Annotated[str, Field(min_length=1, max_length=500)]
Prompt = Annotated[str, Field(min_length=1, max_length=5000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    feedback: str | None = Field(None, max_length=2000)


class Single(_Body):
    type: Literal["single"]
    options: list[Text] = Field(min_length=2, max_length=MAX_OPTIONS)
    answer: int = Field(ge=0, lt=MAX_OPTIONS)
    shuffle: bool = True

    @model_validator(mode="after")
    def _key_is_an_option(self) -> Single:
        _distinct(self.options)
        if self.answer >= len(self.options):
            raise ValueError("the answer must be one of the options")
        return self


class Multiple(_Body):
    type: Literal["multiple"]
    options: list[Text] = Field(min_length=2, max_length=MAX_OPTIONS)
    answers: list[int] = Field(min_length=1, max_length=MAX_OPTIONS)
    scoring: Literal["all_or_nothing", "partial"] = "all_or_nothing"
    shuffle: bool = True

    @model_validator(mode="after")
    def _keys_are_options(self) -> Multiple:
        _distinct(self.options)
        if len(set(self.answers)) != len(self.answers) or not all(
            0 <= a < len(self.options) for a in self.answers
        ):
            raise ValueError("the answers must be distinct options")
        return self


class TrueFalse(_Body):
    type: Literal["truefalse"]
    answer: bool


class Numerical(_Body):
    type: Literal["numerical"]
    answer: Decimal = Field(allow_inf_nan=False, max_digits=30)
    tolerance: Decimal = Field(Decimal(0), ge=0, allow_inf_nan=False, max_digits=30)
    units: list[Annotated[str, Field(min_length=1, max_length=20)]] = Field(
        default_factory=list, max_length=10
    )
    unit_required: bool = False


class ShortAnswer(_Body):
    type: Literal["shortanswer"]
    answers: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20
    )
    case_sensitive: bool = False
    accents_sensitive: bool = True
    spaces: Literal["collapse", "ignore"] = "collapse"


class Gap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20
    )
    options: list[Text] | None = Field(None, min_length=2, max_length=MAX_OPTIONS)


class Cloze(_Body):
    """The prompt holds the gaps as {1}, {2}…; each gap is graded on its own."""

    type: Literal["cloze"]
    gaps: list[Gap] = Field(min_length=1, max_length=20)
    case_sensitive: bool = False
    accents_sensitive: bool = True

    @model_validator(mode="after")
    def _every_gap_is_in_the_prompt(self) -> Cloze:
        named = [int(n) for n in GAP.findall(self.prompt)]
        if sorted(named) != list(range(1, len(self.gaps) + 1)):
            raise ValueError("the prompt must hold each gap once, as {1}, {2}…")
        for gap in self.gaps:
            if gap.options is not None and not set(gap.answers) <= set(gap.options):
                raise ValueError("a gap's answers must be among its options")
        return self


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    left: Text
    right: Text


class Matching(_Body):
    type: Literal["matching"]
    pairs: list[Pair] = Field(min_length=2, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _distinct_sides(self) -> Matching:
        _distinct([p.left for p in self.pairs])
        _distinct([p.right for p in self.pairs])
        return self


class Ordering(_Body):
    type: Literal["ordering"]
    items: list[Text] = Field(min_length=2, max_length=MAX_OPTIONS)  # in the right order
    scoring: Literal["all_or_nothing", "absolute_position"] = "all_or_nothing"

    @model_validator(mode="after")
    def _distinct_items(self) -> Ordering:
        _distinct(self.items)
        return self


Body = Annotated[
    Single | Multiple | TrueFalse | Numerical | ShortAnswer | Cloze | Matching | Ordering,
    Field(discriminator="type"),
]


def _distinct(values: list[str]) -> None:
    if len({v.strip().casefold() for v in values}) != len(values):
        raise ValueError("options must be distinct")
