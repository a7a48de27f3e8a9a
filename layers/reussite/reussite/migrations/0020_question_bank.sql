-- Exams a school writes itself: question pools with versioned questions (a draft is edited
-- freely; publishing freezes it, and editing a published question makes the next version),
-- exam versions (each publication a frozen snapshot; an attempt keeps the version it started
-- on), answers saved during an attempt, extra time granted to a student.

CREATE TABLE question_pools (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{1,39}$'),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    created_by  uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE questions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pool_code     text NOT NULL REFERENCES question_pools (code),
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$'),
    version       integer NOT NULL CHECK (version >= 1),
    status        text NOT NULL CHECK (status IN ('DRAFT', 'PUBLISHED', 'SUPERSEDED', 'RETIRED')),
    type          text NOT NULL CHECK (type IN ('single', 'multiple', 'truefalse', 'numerical',
                                                'shortanswer', 'cloze', 'matching', 'ordering')),
    topic         text CHECK (length(topic) BETWEEN 1 AND 60),
    difficulty    smallint NOT NULL DEFAULT 3 CHECK (difficulty BETWEEN 1 AND 5),
    tags          text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
    body          jsonb NOT NULL,  -- the prompt (Markdown and its sanitised HTML), the key
    created_by    uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    UNIQUE (pool_code, name, version),
    CHECK ((status = 'DRAFT') = (published_at IS NULL))
);
CREATE UNIQUE INDEX questions_one_draft ON questions (pool_code, name) WHERE status = 'DRAFT';
CREATE UNIQUE INDEX questions_one_live ON questions (pool_code, name) WHERE status = 'PUBLISHED';
-- The live questions of a pool are numbered 1..n without gaps (publishing appends or takes
-- over the superseded version's number, retiring moves the last one into the hole), so an
-- unfiltered draw picks n numbers from the seed and reads just those rows, whatever the
-- pool's size.
ALTER TABLE questions ADD COLUMN ordinal integer CHECK (ordinal >= 1);
ALTER TABLE questions ADD CONSTRAINT questions_live_numbered
    CHECK ((status = 'PUBLISHED') = (ordinal IS NOT NULL));
CREATE UNIQUE INDEX questions_draw ON questions (pool_code, ordinal) WHERE status = 'PUBLISHED';

-- A published question is frozen: only its status moves on (superseded, retired).
CREATE FUNCTION questions_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'DRAFT' AND (NEW.body, NEW.type, NEW.topic, NEW.difficulty, NEW.tags,
                                  NEW.version, NEW.name, NEW.pool_code)
        IS DISTINCT FROM (OLD.body, OLD.type, OLD.topic, OLD.difficulty, OLD.tags,
                          OLD.version, OLD.name, OLD.pool_code) THEN
        RAISE EXCEPTION 'a published question is frozen: edit it as its next version';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER questions_frozen BEFORE UPDATE ON questions
    FOR EACH ROW EXECUTE FUNCTION questions_frozen();

ALTER TABLE exam_definitions
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN review_policy text NOT NULL DEFAULT 'marks'
        CHECK (review_policy IN ('none', 'score', 'marks', 'answers'));

CREATE TABLE exam_versions (
    exam_code     text NOT NULL REFERENCES exam_definitions (code),
    version       integer NOT NULL CHECK (version >= 1),
    definition    jsonb NOT NULL,
    published_by  uuid REFERENCES users (id),
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (exam_code, version)
);
INSERT INTO exam_versions (exam_code, version, definition)
SELECT code, 1, to_jsonb(d) - 'version' - 'active' FROM exam_definitions d;

CREATE TABLE exam_drafts (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{1,39}$'),
    definition  jsonb NOT NULL,
    updated_by  uuid REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE exam_attempts
    ADD COLUMN exam_version integer NOT NULL DEFAULT 1,
    ADD COLUMN saved_answers jsonb,
    ADD COLUMN saved_at timestamptz,
    ADD COLUMN question_credits jsonb,  -- each question's credit (0..1) when graded
    ADD CONSTRAINT exam_attempts_version_fk FOREIGN KEY (exam_code, exam_version)
        REFERENCES exam_versions (exam_code, version);

-- Extra time: a percentage and/or minutes, for one exam or (exam_code NULL) every exam.
CREATE TABLE exam_accommodations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id     uuid NOT NULL REFERENCES students (id),
    exam_code      text REFERENCES exam_definitions (code),
    extra_percent  integer NOT NULL DEFAULT 0 CHECK (extra_percent BETWEEN 0 AND 200),
    extra_minutes  integer NOT NULL DEFAULT 0 CHECK (extra_minutes BETWEEN 0 AND 600),
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    granted_by     uuid NOT NULL REFERENCES users (id),
    granted_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX exam_accommodations_once
    ON exam_accommodations (student_id, coalesce(exam_code, ''));
