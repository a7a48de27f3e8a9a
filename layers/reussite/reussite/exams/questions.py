"""The question types staff author, as Moodle's quiz knows them: single and multiple choice,
true/false, numeric (a tolerance, units), short answer (several accepted answers; case, accents
and spacing per question), gap-fill (cloze: several gaps, each graded), matching and ordering.

Three steps, all pure functions:
- `Body` validates what an author writes (bounded, every key consistent with its options);
- `prepare` turns a published question into the attempt's copy: its options shuffled from the
  attempt's seed, the answer key remapped to the shuffled order (stored with the attempt only);
- `score` grades one answer to a fraction between 0 and 1, normalising it per type first. Odd
  input (a 5,000-digit number, "²", a list where a word was expected) scores 0, never raises.

`public` is the question as a student sees it: never its key.
"""

from __future__ import annotations

import random
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TYPES = (
    "single",
    "multiple",
    "truefalse",
    "numerical",
    "shortanswer",
    "cloze",
    "matching",
    "ordering",
)
Text = Annotated[str, Field(min_length=1, max_length=500)]
Prompt = Annotated[str, Field(min_length=1, max_length=5000)]
MAX_OPTIONS = 12


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
        named = [int(n) for n in _GAP.findall(self.prompt)]
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


_GAP = re.compile(r"\{(\d{1,2})\}")


# -- the attempt's copy ------------------------------------------------------------------------


def prepare(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The question as stored with an attempt: shuffled from the attempt's seed, its key
    remapped to what the student sees."""
    kind = body["type"]
    q = dict(body)
    if kind in ("single", "multiple") and body.get("shuffle", True):
        order = list(range(len(body["options"])))
        rng.shuffle(order)
        q["options"] = [body["options"][i] for i in order]
        if kind == "single":
            q["answer"] = order.index(body["answer"])
        else:
            q["answers"] = sorted(order.index(a) for a in body["answers"])
    elif kind == "matching":
        rights = [p["right"] for p in body["pairs"]]
        rng.shuffle(rights)
        q["left"] = [p["left"] for p in body["pairs"]]
        q["right"] = rights
        q["answer"] = [rights.index(p["right"]) for p in body["pairs"]]
    elif kind == "ordering":
        shown = list(range(len(body["items"])))
        while len(shown) > 1 and shown == sorted(shown):
            rng.shuffle(shown)  # never shown already in order
        q["shown"] = [body["items"][i] for i in shown]
        q["answer"] = [shown.index(i) for i in range(len(body["items"]))]
    elif kind == "cloze":
        q["gaps"] = []
        for gap in body["gaps"]:
            options = list(gap["options"]) if gap.get("options") else None
            if options:
                rng.shuffle(options)
            q["gaps"].append({"answers": gap["answers"], "options": options})
    return q


def public(q: dict[str, Any]) -> dict[str, Any]:
    """What the student is shown of a question: its prompt and choices, never the key."""
    shown: dict[str, Any] = {"prompt": q["prompt"]}
    if q.get("prompt_html"):
        shown["prompt_html"] = q["prompt_html"]
    kind = q["type"]
    if kind in ("single", "multiple", "choice"):
        shown["options"] = q.get("options")
    elif kind == "matching":
        shown["left"], shown["right"] = q["left"], q["right"]
    elif kind == "ordering":
        shown["items"] = q["shown"]
    elif kind == "cloze":
        shown["gaps"] = [{"options": g["options"]} for g in q["gaps"]]
    elif kind == "numerical" and q.get("units"):
        shown["units"] = q["units"]
    return shown


# -- grading -----------------------------------------------------------------------------------


def score(q: dict[str, Any], answer: Any) -> float:
    """One answer's credit, between 0 and 1. Anything unusable is worth 0."""
    if answer is None:
        return 0.0
    grader = _GRADERS.get(q["type"])
    if grader is None:
        return 0.0
    try:
        return float(grader(q, answer))
    except (TypeError, ValueError, KeyError, ArithmeticError):
        return 0.0


_INDEX = re.compile(r"[0-9]{1,2}", re.ASCII)


def _index(value: Any, size: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INDEX.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if 0 <= number < size else None


def _indexes(value: Any, size: int, limit: int) -> list[int | None] | None:
    if not isinstance(value, list) or len(value) > limit:
        return None
    return [_index(v, size) for v in value]


def _multiple(q: dict[str, Any], answer: Any) -> float:
    chosen = _indexes(answer, len(q["options"]), MAX_OPTIONS)
    if chosen is None or None in chosen or len(set(chosen)) != len(chosen):
        return 0.0
    right, picked = set(q["answers"]), set(chosen)
    if q.get("scoring") == "partial":
        # Moodle's way: each right option is worth 1/len(right), each wrong one costs as much
        # as a right one earns, never below 0.
        wrong_count = len(q["options"]) - len(right)
        gained = len(picked & right) / len(right)
        lost = len(picked - right) / (wrong_count or 1)
        return max(0.0, round(gained - lost, 6))
    return float(picked == right)


_TRUE = {"true", "vrai", "yes", "oui", "1", "صحيح"}
_FALSE = {"false", "faux", "no", "non", "0", "خطأ"}


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) <= 10:
        text = value.strip().casefold()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def ascii_digits(text: str) -> str:
    """Any Unicode decimal digit (Arabic-Indic, full-width…) as its ASCII digit; other
    characters unchanged. "²" is not a decimal digit and stays as it is."""
    return "".join(
        str(unicodedata.decimal(c))
        if not c.isascii() and unicodedata.decimal(c, None) is not None
        else c
        for c in text
    )


_NUMBER = re.compile(
    r"(?P<num>[-+]?(?:[0-9]{1,15}(?:[.,][0-9]{1,15})?|[.,][0-9]{1,15}))\s*(?P<unit>.*)"
)


def _numerical(q: dict[str, Any], answer: Any) -> bool:
    if isinstance(answer, bool) or not isinstance(answer, str | int | float):
        return False
    text = ascii_digits(str(answer))
    if len(text) > 40:
        return False
    text = text.replace("\u066b", ".").replace("\u202f", "").replace("\u00a0", "")
    found = _NUMBER.fullmatch(text.strip())
    if found is None:
        return False
    unit = found["unit"].strip()
    units = [u.casefold() for u in q.get("units") or []]
    if unit and unit.casefold() not in units:
        return False
    if not unit and q.get("unit_required") and units:
        return False
    try:
        value = Decimal(found["num"].replace(",", "."))
        return abs(value - Decimal(str(q["answer"]))) <= Decimal(str(q.get("tolerance", 0)))
    except InvalidOperation:
        return False


def _text(value: str, case_sensitive: bool, accents_sensitive: bool, spaces: str) -> str:
    text = unicodedata.normalize("NFC", value)
    text = "".join(text.split()) if spaces == "ignore" else " ".join(text.split())
    if not accents_sensitive:
        text = "".join(
            c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
        )
        text = unicodedata.normalize("NFC", text)
    return text if case_sensitive else text.casefold()


def _matches(rules: dict[str, Any], answer: Any, accepted: list[str]) -> bool:
    if not isinstance(answer, str) or len(answer) > 200:
        return False
    args = (
        bool(rules.get("case_sensitive")),
        bool(rules.get("accents_sensitive", True)),
        rules.get("spaces", "collapse"),
    )
    given = _text(answer, *args)
    return bool(given) and any(given == _text(a, *args) for a in accepted)


def _cloze(q: dict[str, Any], answer: Any) -> float:
    gaps = q["gaps"]
    if isinstance(answer, dict):
        answer = [answer.get(str(n + 1)) for n in range(len(gaps))]
    if not isinstance(answer, list) or len(answer) > len(gaps):
        return 0.0
    right = 0
    for gap, given in zip(gaps, answer, strict=False):
        if gap.get("options"):
            picked = _index(given, len(gap["options"]))
            right += picked is not None and gap["options"][picked] in gap["answers"]
        else:
            right += _matches(q, given, gap["answers"])
    return round(right / len(gaps), 6)


def _positions(answer: Any, key: list[int], size: int, partial: bool) -> float:
    given = _indexes(answer, size, size)
    if given is None or len(given) != len(key):
        return 0.0
    hits = sum(g == k for g, k in zip(given, key, strict=True))
    if partial:
        return round(hits / len(key), 6)
    return float(hits == len(key))


_GRADERS: dict[str, Any] = {
    "single": lambda q, a: _index(a, len(q["options"])) == q["answer"],
    "multiple": lambda q, a: _multiple(q, a),
    "truefalse": lambda q, a: _boolean(a) is q["answer"],
    "numerical": lambda q, a: _numerical(q, a),
    "shortanswer": lambda q, a: _matches(q, a, q["answers"]),
    "cloze": lambda q, a: _cloze(q, a),
    "matching": lambda q, a: _positions(a, q["answer"], len(q["right"]), partial=True),
    "ordering": lambda q, a: _positions(
        a, q["answer"], len(q["shown"]), partial=q.get("scoring") == "absolute_position"
    ),
}


def model_answer(q: dict[str, Any]) -> Any:
    """An answer that earns full credit, as a student would send it (the attempt's copy)."""
    kind = q["type"]
    if kind == "multiple":
        return q["answers"]
    if kind == "shortanswer":
        return q["answers"][0]
    if kind == "cloze":
        return [
            g["options"].index(g["answers"][0]) if g.get("options") else g["answers"][0]
            for g in q["gaps"]
        ]
    if kind == "numerical":
        return str(q["answer"])
    return q["answer"]
