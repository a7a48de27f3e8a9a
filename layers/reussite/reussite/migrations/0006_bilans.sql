-- Orientation reports: a questionnaire, then a report written in three passes by a worker.

CREATE TABLE bilans (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id       uuid NOT NULL REFERENCES students (id),
    owner_id         uuid NOT NULL REFERENCES users (id),  -- who asked: the parent or student
    idempotency_key  text NOT NULL,
    questionnaire    jsonb NOT NULL,
    status           text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    passes_done      integer NOT NULL DEFAULT 0 CHECK (passes_done BETWEEN 0 AND 3),
    writer           text,
    report_markdown  text,
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (owner_id, idempotency_key),
    CHECK ((status = 'COMPLETED') = (report_markdown IS NOT NULL)),
    CHECK ((status = 'FAILED') = (failure_reason IS NOT NULL)),
    CHECK ((status = 'PENDING') = (finished_at IS NULL))
);
CREATE INDEX bilans_student_idx ON bilans (student_id, created_at DESC);

-- A worker generating a report holds it until then (a duplicated message waits its turn).
ALTER TABLE bilans ADD COLUMN claimed_until timestamptz;
