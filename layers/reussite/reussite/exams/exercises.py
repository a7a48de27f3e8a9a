"""Practice exercises from the generators. Each generator declares `min_offer` as data; the
offer is derived on the server. Free users get premium generators filtered out and fall back to
free ones; PREMIUM_REQUIRED only when a premium generator is asked for by name or nothing free
is left for the topic."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from uuid import UUID

from reussite.errors import GeneratorNotFound, PremiumRequired
from reussite.exams.generators import GENERATORS, Generator
from reussite.identity import service as identity
from reussite.identity.models import Role, User
from reussite.offers import service as offers
from reussite.offers.models import Offer

_RANK = {"free": 0, "pro": 1}


@dataclass(frozen=True)
class Exercise:
    generator_key: str
    title: str
    topic: str
    is_premium: bool
    seed: int
    type: str
    prompt: str
    answer: str


def offer_for(user: User, student_id: UUID | None) -> Offer:
    """The offer that applies: the student's; a parent's for the named child (or the best among
    their children); staff and coaches see everything."""
    if user.is_staff or user.role is Role.COACH:
        return Offer.PRO
    if user.role is Role.ELEVE and user.student_id is not None:
        return offers.offer_of(user.student_id)
    if student_id is not None:
        return offers.offer_of(identity.accessible_student(user, student_id))
    children = identity.describe(user).children or []
    found = {offers.offer_of(c.student_id) for c in children}
    return Offer.PRO if Offer.PRO in found else Offer.FREE


def generate(
    user: User,
    generator: str | None = None,
    topic: str | None = None,
    seed: int | None = None,
    student_id: UUID | None = None,
) -> Exercise:
    offer = offer_for(user, student_id)
    if generator is not None:
        chosen = GENERATORS.get(generator)
        if chosen is None:
            raise GeneratorNotFound(f"No generator {generator[:40]!r}")
        _require(chosen, offer)
        candidates = [chosen]
    else:
        matching = [g for g in GENERATORS.values() if topic is None or g.topic == topic]
        if not matching:
            raise GeneratorNotFound(f"No generator for topic {str(topic)[:40]!r}")
        candidates = [g for g in matching if _RANK[g.min_offer] <= _RANK[offer.value]]
        if not candidates:  # nothing free left for this topic
            _require(matching[0], offer)
    seed = secrets.randbits(31) if seed is None else seed
    rng = random.Random(seed)
    picked = candidates[rng.randrange(len(candidates))]
    question = picked.make(rng)
    return Exercise(
        generator_key=picked.key,
        title=picked.title,
        topic=picked.topic,
        is_premium=picked.min_offer != "free",
        seed=seed,
        type=question["type"],
        prompt=question["prompt"],
        answer=str(question["answer"]),
    )


def _require(generator: Generator, offer: Offer) -> None:
    if _RANK[generator.min_offer] > _RANK[offer.value]:
        raise PremiumRequired(
            f"{generator.title} needs the {generator.min_offer} offer",
            generator=generator.key,
            required_offer=generator.min_offer,
            current_offer=offer.value,
        )
