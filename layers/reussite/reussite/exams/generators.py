"""Questions from question banks (data files) and deterministic seeded generators.

Every generator takes a `random.Random` seeded by the caller (from `secrets`, stored with the
attempt), so the same seed always gives the same questions and no PRNG state is shared.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

Question = dict[str, Any]  # {"type", "prompt", "options"?, "answer"}


@dataclass(frozen=True)
class Generator:
    key: str
    topic: str
    title: str
    min_offer: str  # "free" | "pro": data, checked against the offer derived on the server
    make: Callable[[random.Random], Question]


def _proportionality(rng: random.Random) -> Question:
    unit = rng.randint(2, 9)
    have, want = rng.sample(range(2, 13), 2)
    item = rng.choice(["cahiers", "stylos", "baguettes", "tickets de bus", "cahiers de brouillon"])
    return {
        "type": "number",
        "prompt": f"{have} {item} coûtent {have * unit} dinars. Combien coûtent {want} {item} ?",
        "answer": str(want * unit),
    }


def _fraction(rng: random.Random) -> Question:
    den = rng.randint(2, 12)
    num = rng.randint(1, den - 1)
    g = math.gcd(num, den)
    num, den = num // g, den // g
    k = rng.randint(2, 9)
    return {
        "type": "fraction",
        "prompt": f"Simplifie la fraction {num * k}/{den * k}.",
        "answer": f"{num}/{den}",
    }


TIMES = "\u00d7"  # the multiplication sign pupils write


def _mental(rng: random.Random) -> Question:
    a, b = rng.randint(12, 99), rng.randint(12, 99)
    op = rng.choice(["+", "-", TIMES])
    if op == TIMES:
        a, b = rng.randint(3, 12), rng.randint(3, 12)
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return {"type": "number", "prompt": f"Calcule de tête : {a} {op} {b}", "answer": str(value)}


def _multiplicative(rng: random.Random) -> Question:
    people = rng.choice([2, 4, 5, 6])
    per_person = rng.choice([25, 50, 75, 100, 125])
    target = rng.choice([n for n in range(2, 13) if n != people])
    return {
        "type": "number",
        "prompt": (
            f"Une recette pour {people} personnes demande {people * per_person} g de farine. "
            f"Combien de grammes pour {target} personnes ?"
        ),
        "answer": str(target * per_person),
    }


GENERATORS: dict[str, Generator] = {
    g.key: g
    for g in (
        Generator(
            "proportionality", "proportionality", "Proportionnalité", "free", _proportionality
        ),
        Generator(
            "fraction_simplification", "fractions", "Simplifier une fraction", "pro", _fraction
        ),
        Generator("mental_arithmetic", "arithmetic", "Calcul mental", "pro", _mental),
        Generator(
            "multiplicative_reasoning",
            "proportionality",
            "Raisonnement multiplicatif",
            "pro",
            _multiplicative,
        ),
    )
}


@cache
def _bank(name: str) -> Any:
    """A question bank from the package's data files, parsed once per container."""
    return json.loads(resources.files("reussite.exams.data").joinpath(f"{name}.json").read_text())


def _choice(rng: random.Random, prompt: str, right: str, wrong: list[str]) -> Question:
    options = [right, *wrong]
    rng.shuffle(options)
    return {"type": "choice", "prompt": prompt, "options": options, "answer": options.index(right)}


def vocabulary(rng: random.Random, language: str, level: str, count: int) -> list[Question]:
    bank = _bank("vocabulary")[language]
    words = rng.sample(bank[level], min(count, len(bank[level])))
    glosses = sorted({g for lvl, pairs in bank.items() if lvl != "prompt" for _, g in pairs})
    questions = []
    for word, gloss in words:
        wrong = rng.sample([g for g in glosses if g != gloss], 3)
        questions.append(_choice(rng, bank["prompt"].format(word=word), gloss, wrong))
    return questions


def bank_questions(rng: random.Random, bank: str, section: str, count: int) -> list[Question]:
    items = _bank(bank)[section]
    picked = rng.sample(items, min(count, len(items)))
    return [
        _choice(
            rng,
            q["prompt"],
            q["options"][q["answer"]],
            [o for i, o in enumerate(q["options"]) if i != q["answer"]],
        )
        for q in picked
    ]


def from_source(rng: random.Random, source: dict[str, Any]) -> list[Question]:
    """The questions one component source asks for: a bank draw or a generator's output."""
    count = int(source["count"])
    if "generator" in source:
        make = GENERATORS[source["generator"]].make
        return [make(rng) for _ in range(count)]
    if source["bank"] == "vocabulary":
        return vocabulary(rng, source["language"], source["level"], count)
    return bank_questions(rng, source["bank"], source["section"], count)


def normalise(question: Question, answer: Any) -> str | None:
    """A submitted answer in the form its question's key is stored, or None if unusable."""
    if answer is None:
        return None
    text = str(answer).strip().replace(" ", "")
    if question["type"] == "choice":
        return text if _CHOICE.fullmatch(text) else None
    if question["type"] == "fraction":  # as written: 6/8 is not the simplified 3/4
        written = _FRACTION.fullmatch(text)
        if written and int(written["den"]) != 0:
            return f"{int(written['num'])}/{int(written['den'])}"
        return None  # "²/3", a 5,000-digit numerator: not an answer anyone is asked for
    return text.replace(",", ".") or None


# ASCII digits only (str.isdigit() accepts "²", which int() refuses), and no more of them than
# a question's key could have.
_CHOICE = re.compile(r"[0-9]{1,3}", re.ASCII)
_FRACTION = re.compile(r"(?P<num>-?[0-9]{1,9})/(?P<den>[0-9]{1,9})", re.ASCII)
