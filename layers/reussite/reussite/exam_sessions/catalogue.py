"""Qualifications as data: components with their pass marks and weights, fees, windows."""

from __future__ import annotations

from reussite import db
from reussite.exam_sessions.errors import QualificationNotFound
from reussite.exam_sessions.rules import Component, Qualification
from reussite.history import Page, by_code


def qualification(
    code: str, conn: db.Connection | None = None, with_services: bool = False
) -> Qualification:
    conn = conn or db.connection()
    row = conn.execute("SELECT * FROM qualifications WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise QualificationNotFound()
    parts = conn.execute(
        """SELECT component, name, pass_mark, weight, duration_minutes
             FROM qualification_components
            WHERE qualification_code = %s ORDER BY component DESC""",
        (code,),
    ).fetchall()
    components = tuple(
        Component(p["component"], p["name"], p["pass_mark"], p["weight"], p["duration_minutes"])
        for p in parts
    )
    if not with_services:
        return Qualification(**row, components=components)
    from reussite.exam_sessions.services import prices

    return Qualification(**row, components=components, services=tuple(prices(conn, code)))


def qualifications(cursor: str | None, limit: int) -> Page[Qualification]:
    rows, following = by_code(
        "qualifications",
        """SELECT t.id FROM (SELECT code AS id FROM qualifications) t
            WHERE {keyset} ORDER BY t.id LIMIT %(limit)s""",
        {},
        cursor,
        limit,
    )
    return Page[Qualification](
        items=[qualification(r["id"], with_services=True) for r in rows], next=following
    )
