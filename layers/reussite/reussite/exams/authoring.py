"""Staff author the exams: question pools, questions in versions, exam drafts, publication.

- A question is saved as a DRAFT of its name, edited freely; publishing freezes it (a trigger
  refuses any later change) and supersedes the version before. Saving again after publishing
  opens the next version's draft. Attempts copy the questions they ask, so nothing an author
  does later changes an attempt.
- An exam is edited as a draft; publishing checks every pool can serve its draws and writes the
  next frozen version (`exam_versions`), which becomes the catalogue's. An attempt keeps the
  version it started on. Retiring takes an exam out of the catalogue; its attempts and
  certificates stay readable.
- Every write is an idempotent PUT or POST on a natural key (the pool, the question's name, the
  exam's code): repeating it gives the same result. Each is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from reussite import audit, db
from reussite.errors import DomainError, ExamNotFound, NotFound
from reussite.exams import bank
from reussite.exams.questions import Body
from reussite.identity.access import require_staff
from reussite.identity.models import User
from reussite.inputs import HumanName

Code = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,39}$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class PoolNotFound(NotFound):
    code = "POOL_NOT_FOUND"
    title = "No such question pool"


class QuestionNotFound(NotFound):
    code = "QUESTION_NOT_FOUND"
    title = "No such question in this pool"


class NothingToPublish(DomainError):
    code = "NOTHING_TO_PUBLISH"
    status = 409
    title = "There is no draft to publish"


# -- what authors send -------------------------------------------------------------------------


class PoolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: HumanName


class QuestionSpec(BaseModel):
    """A question: its body (one of the types, with its key) and how components find it."""

    model_config = ConfigDict(extra="forbid")
    body: Body
    topic: str | None = Field(None, min_length=1, max_length=60)
    difficulty: int = Field(3, ge=1, le=5)
    tags: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10
    )


class SourceSpec(BaseModel):
    """Draw `count` live questions from `pool`, optionally by topic, difficulty and tag."""

    model_config = ConfigDict(extra="forbid")
    pool: Code
    count: int = Field(ge=1, le=200)
    topic: str | None = Field(None, min_length=1, max_length=60)
    difficulty: list[int] | None = Field(None, min_length=2, max_length=2)
    tag: str | None = Field(None, min_length=1, max_length=40)

    @field_validator("difficulty")
    @classmethod
    def _a_range(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and not 1 <= value[0] <= value[1] <= 5:
            raise ValueError("a difficulty range within 1..5, low first")
        return value


class ComponentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Slug
    name: HumanName
    pass_mark: int = Field(ge=0, le=100)
    sources: list[SourceSpec] = Field(min_length=1, max_length=10)


class ExamSpec(BaseModel):
    """An exam as authored. Publishing it makes the next version."""

    model_config = ConfigDict(extra="forbid")
    course: Literal["language", "wine", "maths"]
    language: str | None = Field(None, pattern=r"^[a-z]{2}$")
    level: str = Field(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9+-]+$")
    title: HumanName
    duration_minutes: int = Field(ge=1, le=600)
    passing_score: int = Field(ge=0, le=100)
    credit_cost: int = Field(ge=1, le=100)
    min_offer: Literal["free", "pro"] = "free"
    components: list[ComponentSpec] = Field(min_length=1, max_length=10)
    overdue_policy: Literal["autosubmit", "grace", "abandon"] = "autosubmit"
    grace_minutes: int = Field(0, ge=0, le=120)
    review_policy: Literal["none", "score", "marks", "answers"] = "marks"
    valid_months: int | None = Field(
        None, ge=1, le=600, description="Certificates expire after this; omitted = never"
    )

    @field_validator("components")
    @classmethod
    def _distinct_keys(cls, value: list[ComponentSpec]) -> list[ComponentSpec]:
        if len({c.key for c in value}) != len(value):
            raise ValueError("component keys must be distinct")
        return value


class Pool(BaseModel):
    code: str
    title: str
    live: int = Field(description="Published questions the pool can draw from")
    drafts: int


class Question(BaseModel):
    pool: str
    name: str
    version: int
    status: str
    type: str
    topic: str | None
    difficulty: int
    tags: list[str]
    body: dict[str, Any]
    published_at: datetime | None


class ExamDraft(BaseModel):
    code: str
    definition: dict[str, Any]
    updated_at: datetime


class Published(BaseModel):
    code: str
    version: int
    active: bool
    title: str


_BODY: TypeAdapter[Any] = TypeAdapter(Body)


def render_markdown(text: str) -> str:
    """Markdown as safe HTML: raw HTML is escaped, unsafe link schemes refused (markdown-it,
    CommonMark with HTML off); nothing a teacher types can run in a student's browser."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": False}).render(text))


# -- pools and questions -----------------------------------------------------------------------


def save_pool(staff: User, code: str, title: str) -> Pool:
    require_staff(staff)
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO question_pools (code, title, created_by) VALUES (%s, %s, %s)
               ON CONFLICT (code) DO UPDATE SET title = EXCLUDED.title""",
            (code, title, staff.id),
        )
        audit.record(conn, staff.id, "question_pool.save", f"question-pool:{code}")
        return _pool(conn, code)


def _pool(conn: db.Connection, code: str) -> Pool:
    row = conn.execute(
        """SELECT p.code, p.title,
                  count(*) FILTER (WHERE q.status = 'PUBLISHED') AS live,
                  count(*) FILTER (WHERE q.status = 'DRAFT') AS drafts
             FROM question_pools p LEFT JOIN questions q ON q.pool_code = p.code
            WHERE p.code = %s GROUP BY p.code""",
        (code,),
    ).fetchone()
    if row is None:
        raise PoolNotFound()
    return Pool.model_validate(row)


def _lock_pool(conn: db.Connection, code: str) -> None:
    """Writes to a pool's questions take the pool's row lock: two saves of one name, or a save
    racing a publish, run one after the other."""
    if conn.execute("SELECT 1 FROM question_pools WHERE code = %s FOR UPDATE", (code,)).fetchone():
        return
    raise PoolNotFound()


def stored_body(spec: QuestionSpec) -> dict[str, Any]:
    body: dict[str, Any] = spec.body.model_dump(mode="json")
    body["prompt_html"] = render_markdown(body["prompt"])
    return body


def save_question(staff: User, pool: str, name: str, spec: QuestionSpec) -> Question:
    """The draft of `name` in `pool`: created (as the next version after the published one) or
    replaced. A published version is never changed."""
    require_staff(staff)
    with db.transaction() as conn:
        _lock_pool(conn, pool)
        saved = save_draft(conn, pool, name, spec, staff.id)
        audit.record(conn, staff.id, "question.save", f"question:{pool}/{name}", saved.version)
    return saved


def save_draft(
    conn: db.Connection, pool: str, name: str, spec: QuestionSpec, actor: UUID
) -> Question:
    """Inside the caller's transaction, under the pool's lock."""
    values = {
        "pool": pool,
        "name": name,
        "type": spec.body.type,
        "topic": spec.topic,
        "difficulty": spec.difficulty,
        "tags": spec.tags,
        "body": Jsonb(stored_body(spec)),
        "by": actor,
    }
    row = conn.execute(
        f"""UPDATE questions SET type = %(type)s, topic = %(topic)s,
                  difficulty = %(difficulty)s, tags = %(tags)s, body = %(body)s
             WHERE pool_code = %(pool)s AND name = %(name)s AND status = 'DRAFT'
         RETURNING {_QUESTION}""",
        values,
    ).fetchone()
    if row is None:
        row = conn.execute(
            f"""INSERT INTO questions (pool_code, name, version, status, type, topic,
                                       difficulty, tags, body, created_by)
                SELECT %(pool)s, %(name)s, coalesce(max(version), 0) + 1, 'DRAFT', %(type)s,
                       %(topic)s, %(difficulty)s, %(tags)s, %(body)s, %(by)s
                  FROM questions WHERE pool_code = %(pool)s AND name = %(name)s
             RETURNING {_QUESTION}""",
            values,
        ).fetchone()
    assert row is not None
    return Question.model_validate(row)


_QUESTION = """pool_code AS pool, name, version, status, type, topic, difficulty, tags, body,
    published_at"""


def publish_question(staff: User, pool: str, name: str) -> Question:
    """The draft becomes the live version; the one before is superseded. Asked again with no
    draft left, the live version is the answer."""
    require_staff(staff)
    with db.transaction() as conn:
        _lock_pool(conn, pool)
        published = publish_draft(conn, pool, name)
        if published is None:
            live = conn.execute(
                f"""SELECT {_QUESTION} FROM questions
                     WHERE pool_code = %s AND name = %s AND status = 'PUBLISHED'""",
                (pool, name),
            ).fetchone()
            if live is None:
                raise QuestionNotFound()
            return Question.model_validate(live)
        audit.record(
            conn, staff.id, "question.publish", f"question:{pool}/{name}", published.version
        )
    return published


def publish_draft(conn: db.Connection, pool: str, name: str) -> Question | None:
    draft = conn.execute(
        "SELECT version FROM questions WHERE pool_code = %s AND name = %s AND status = 'DRAFT'",
        (pool, name),
    ).fetchone()
    if draft is None:
        return None
    superseded = conn.execute(
        """UPDATE questions q SET status = 'SUPERSEDED', ordinal = NULL
             FROM questions old
            WHERE old.id = q.id AND q.pool_code = %s AND q.name = %s AND q.status = 'PUBLISHED'
        RETURNING old.ordinal""",
        (pool, name),
    ).fetchone()
    ordinal = superseded["ordinal"] if superseded else _live_count(conn, pool) + 1
    row = conn.execute(
        f"""UPDATE questions SET status = 'PUBLISHED', published_at = now(), ordinal = %s
             WHERE pool_code = %s AND name = %s AND status = 'DRAFT'
         RETURNING {_QUESTION}""",
        (ordinal, pool, name),
    ).fetchone()
    return Question.model_validate(row)


def _live_count(conn: db.Connection, pool: str) -> int:
    row = conn.execute(
        """SELECT coalesce(max(ordinal), 0) AS n FROM questions
            WHERE pool_code = %s AND status = 'PUBLISHED'""",
        (pool,),
    ).fetchone()
    return int(row["n"]) if row else 0


def retire_question(staff: User, pool: str, name: str) -> Question:
    """The live version leaves the draws (attempts that asked it keep their copy); asked again,
    the retired version is the answer."""
    require_staff(staff)
    with db.transaction() as conn:
        _lock_pool(conn, pool)
        row = (
            conn.execute(
                f"""UPDATE questions SET status = 'RETIRED'
                 WHERE pool_code = %s AND name = %s AND status = 'PUBLISHED'
             RETURNING {_QUESTION}""",
                (pool, name),
            ).fetchone()
            or conn.execute(
                f"""SELECT {_QUESTION} FROM questions
                 WHERE pool_code = %s AND name = %s AND status = 'RETIRED'
                 ORDER BY version DESC LIMIT 1""",
                (pool, name),
            ).fetchone()
        )
        if row is None:
            raise QuestionNotFound()
        audit.record(conn, staff.id, "question.retire", f"question:{pool}/{name}")
    return Question.model_validate(row)


def list_questions(
    staff: User, pool: str, after: str | None, limit: int, status: str | None = None
) -> tuple[list[Question], str | None]:
    """A pool's questions, latest version of each name, by name; `after` is the last name seen."""
    require_staff(staff)
    conn = db.connection()
    _pool(conn, pool)
    rows = conn.execute(
        f"""SELECT DISTINCT ON (name) {_QUESTION} FROM questions
             WHERE pool_code = %(pool)s AND (%(after)s::text IS NULL OR name > %(after)s)
               AND (%(status)s::text IS NULL OR status = %(status)s)
             ORDER BY name, version DESC LIMIT %(limit)s""",
        {"pool": pool, "after": after, "limit": limit + 1, "status": status},
    ).fetchall()
    page = [Question.model_validate(r) for r in rows[:limit]]
    return page, page[-1].name if len(rows) > limit else None


# -- exams -------------------------------------------------------------------------------------


def save_exam_draft(staff: User, code: str, spec: ExamSpec) -> ExamDraft:
    require_staff(staff)
    with db.transaction() as conn:
        row = conn.execute(
            """INSERT INTO exam_drafts (code, definition, updated_by) VALUES (%s, %s, %s)
               ON CONFLICT (code) DO UPDATE SET definition = EXCLUDED.definition,
                      updated_by = EXCLUDED.updated_by, updated_at = now()
            RETURNING code, definition, updated_at""",
            (code, Jsonb(spec.model_dump(mode="json")), staff.id),
        ).fetchone()
        audit.record(conn, staff.id, "exam.draft", f"exam:{code}")
    return ExamDraft.model_validate(row)


def publish_exam(staff: User, code: str) -> Published:
    """The draft becomes the exam's next version, in the catalogue; every pool must hold enough
    live questions for its draws (409 POOL_TOO_SMALL otherwise, nothing changed). Asked again
    with no draft left, the current version is the answer."""
    require_staff(staff)
    with db.transaction() as conn:
        draft = conn.execute(
            "SELECT definition FROM exam_drafts WHERE code = %s FOR UPDATE", (code,)
        ).fetchone()
        if draft is None:
            return _published(conn, code)
        spec = ExamSpec.model_validate(draft["definition"])
        for component in spec.components:
            for source in component.sources:
                wanted = source.model_dump()
                if not conn.execute(
                    "SELECT 1 FROM question_pools WHERE code = %s", (source.pool,)
                ).fetchone():
                    raise PoolNotFound(pool=source.pool)
                live = bank.available(conn, wanted)
                if live < source.count:
                    raise bank.PoolTooSmall(pool=source.pool, live=live, draws=source.count)
        definition = spec.model_dump(mode="json") | {"code": code}
        conn.execute("SELECT 1 FROM exam_definitions WHERE code = %s FOR UPDATE", (code,))
        latest = conn.execute(
            "SELECT coalesce(max(version), 0) + 1 AS v FROM exam_versions WHERE exam_code = %s",
            (code,),
        ).fetchone()
        assert latest is not None
        version = int(latest["v"])
        columns = [k for k in definition if k != "code"]
        conn.execute(
            f"""INSERT INTO exam_definitions (code, {", ".join(columns)}, version, active)
                VALUES (%(code)s, {", ".join(f"%({c})s" for c in columns)}, %(version)s, true)
                ON CONFLICT (code) DO UPDATE SET
                    {", ".join(f"{c} = EXCLUDED.{c}" for c in columns)},
                    version = EXCLUDED.version, active = true""",
            {**definition, "components": Jsonb(definition["components"]), "version": version},
        )
        conn.execute(
            """INSERT INTO exam_versions (exam_code, version, definition, published_by)
               VALUES (%s, %s, %s, %s)""",
            (code, version, Jsonb(definition), staff.id),
        )
        conn.execute("DELETE FROM exam_drafts WHERE code = %s", (code,))
        audit.record(conn, staff.id, "exam.publish", f"exam:{code}", version)
        return _published(conn, code)


def _published(conn: db.Connection, code: str) -> Published:
    row = conn.execute(
        "SELECT code, version, active, title FROM exam_definitions WHERE code = %s", (code,)
    ).fetchone()
    if row is None:
        raise NothingToPublish()
    return Published.model_validate(row)


def retire_exam(staff: User, code: str) -> Published:
    """Out of the catalogue: no new attempt starts; attempts and certificates stay readable."""
    require_staff(staff)
    with db.transaction() as conn:
        row = conn.execute(
            "UPDATE exam_definitions SET active = false WHERE code = %s RETURNING code", (code,)
        ).fetchone()
        if row is None:
            raise ExamNotFound()
        audit.record(conn, staff.id, "exam.retire", f"exam:{code}")
        return _published(conn, code)


def validate_body(raw: Any) -> Any:
    """A question body as `Body` (for importers): raises pydantic's ValidationError."""
    return _BODY.validate_python(raw)


# -- files -------------------------------------------------------------------------------------


class Imported(BaseModel):
    pool: str
    saved: int = Field(description="Questions saved as drafts (new, or changed)")
    published: int
    unchanged: int = Field(description="Questions whose live version already says the same")
    names: list[str]


def import_questions(
    staff: User, pool: str, fmt: Literal["moodle", "gift"], document: str, publish: bool
) -> Imported:
    """A Moodle XML or GIFT file into the pool, whole or not at all: the file is parsed and every
    question checked first (422 IMPORT_FAILED naming each problem), then all are saved in one
    transaction (and published, with `publish`). Importing the same file again changes nothing."""
    from reussite.exams import formats

    require_staff(staff)
    parsed = formats.parse_moodle(document) if fmt == "moodle" else formats.parse_gift(document)
    saved = published = unchanged = 0
    with db.transaction() as conn:
        _lock_pool(conn, pool)
        for item in parsed:
            spec = QuestionSpec.model_validate(item.spec)
            live = conn.execute(
                """SELECT body, topic, difficulty, tags FROM questions
                    WHERE pool_code = %s AND name = %s AND status = 'PUBLISHED'""",
                (pool, item.name),
            ).fetchone()
            same = live is not None and (live["body"], live["topic"], live["tags"]) == (
                stored_body(spec),
                spec.topic,
                spec.tags,
            )
            if same:
                unchanged += 1
                continue
            save_draft(conn, pool, item.name, spec, staff.id)
            saved += 1
            if publish and publish_draft(conn, pool, item.name) is not None:
                published += 1
        audit.record(
            conn,
            staff.id,
            "question_pool.import",
            f"question-pool:{pool}",
            {"format": fmt, "saved": saved, "published": published, "unchanged": unchanged},
        )
    return Imported(
        pool=pool,
        saved=saved,
        published=published,
        unchanged=unchanged,
        names=[p.name for p in parsed][:1000],
    )


def export_pool(staff: User, pool: str) -> str:
    """The pool's live questions as a Moodle XML file."""
    from reussite.exams import formats

    require_staff(staff)
    conn = db.connection()
    title = _pool(conn, pool).title
    rows = conn.execute(
        """SELECT name, topic, tags, body FROM questions
            WHERE pool_code = %s AND status = 'PUBLISHED' ORDER BY name""",
        (pool,),
    ).fetchall()
    return formats.export_moodle(title, [dict(r) for r in rows])
