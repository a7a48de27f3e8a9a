"""The question types' runtime, without pydantic (the attempt sweeper and the exam functions
import it on their cold path): `prepare` makes the attempt's copy of a published question
(shuffled from the attempt's seed, its key remapped), `public` is what a student sees of it,
`score` grades one answer to a credit between 0 and 1 (odd input scores 0, never raises) and
`model_answer` is an answer that earns full credit. Authoring's validation is in `questions`."""

from __future__ import annotations

import random
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

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
MAX_OPTIONS = 12
GAP = re.compile(r"\{(\d{1,2})\}")


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
