-- The coach's workspace (seed 001, "Scénario 5 : Workflow Coach"): a student's progress per
-- subject recorded after a session, and whether the family shares the orientation report's
-- summary with the student's coaches.

ALTER TABLE students ADD COLUMN share_bilan_with_coaches boolean NOT NULL DEFAULT false;

-- After a session the coach records where the student stands in its subject: a level on a
-- 1-5 scale, a note and the skills worked on. One entry per session and student (recorded
-- again, it is replaced); the history is the entries in time.
CREATE TABLE progress_entries (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id  uuid NOT NULL REFERENCES tutoring_sessions (id),
    student_id  uuid NOT NULL REFERENCES students (id),
    coach_id    uuid NOT NULL REFERENCES coaches (user_id),
    subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 60),
    level       smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    note        text CHECK (length(note) <= 2000),
    skills      text[] NOT NULL DEFAULT '{}' CHECK (cardinality(skills) <= 20),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, student_id)
);
CREATE INDEX progress_entries_student ON progress_entries (student_id, created_at);
CREATE INDEX tutoring_bookings_student ON tutoring_bookings (student_id, session_id);
