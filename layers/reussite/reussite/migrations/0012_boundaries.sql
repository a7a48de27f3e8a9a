-- A parent's POST /v1/students is idempotent: the key and the request's fingerprint are kept on
-- the profile it created, one profile per (parent, key). Profiles without a key (self-provisioned
-- ones, those from before) stay distinct: NULLs never collide.
ALTER TABLE students ADD COLUMN idempotency_key text CHECK (length(idempotency_key) <= 200);
ALTER TABLE students ADD COLUMN request_hash text;
ALTER TABLE students
    ADD CONSTRAINT students_created_by_key UNIQUE (created_by, idempotency_key);

-- A course's students: staff enrol them; a seat in the course's bundled exam is theirs without a
-- fee, and anyone else pays the standalone fee for it.
CREATE TABLE course_enrolments (
    course_session_id  uuid NOT NULL REFERENCES course_sessions (id),
    student_id         uuid NOT NULL REFERENCES students (id),
    enrolled_by        uuid NOT NULL REFERENCES users (id),
    enrolled_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_session_id, student_id)
);
CREATE INDEX course_enrolments_student_idx ON course_enrolments (student_id);
