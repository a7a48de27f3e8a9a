-- Exams: the catalogue (definitions are data), attempts paid for by exactly one ledger debit.

CREATE TABLE exam_definitions (
    code              text PRIMARY KEY,
    course            text NOT NULL CHECK (course IN ('language', 'wine', 'maths')),
    language          text CHECK (language ~ '^[a-z]{2}$'),
    level             text NOT NULL,
    title             text NOT NULL,
    duration_minutes  integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 600),
    passing_score     integer NOT NULL CHECK (passing_score BETWEEN 0 AND 100),
    credit_cost       integer NOT NULL CHECK (credit_cost > 0),
    min_offer         text NOT NULL CHECK (min_offer IN ('free', 'pro')),
    -- [{"key", "name", "pass_mark" (%), "sources": [{"bank", ...} | {"generator", ...}]}]
    components        jsonb NOT NULL CHECK (jsonb_typeof(components) = 'array'),
    overdue_policy    text NOT NULL CHECK (overdue_policy IN ('autosubmit', 'grace', 'abandon')),
    grace_minutes     integer NOT NULL DEFAULT 0 CHECK (grace_minutes >= 0),
    active            boolean NOT NULL DEFAULT true
);

INSERT INTO exam_definitions (code, course, language, level, title, duration_minutes,
                              passing_score, credit_cost, min_offer, components, overdue_policy,
                              grace_minutes) VALUES
    ('FR-A1', 'language', 'fr', 'A1', 'Français A1', 20, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "fr", "level": "A1", "count": 6}]}]', 'autosubmit', 0),
    ('FR-A2', 'language', 'fr', 'A2', 'Français A2', 25, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "fr", "level": "A2", "count": 6}]}]', 'autosubmit', 0),
    ('FR-B1', 'language', 'fr', 'B1', 'Français B1', 30, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "fr", "level": "B1", "count": 6}]}]', 'autosubmit', 0),
    ('FR-B2', 'language', 'fr', 'B2', 'Français B2', 35, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "fr", "level": "B2", "count": 6}]}]', 'autosubmit', 0),
    ('FR-C1', 'language', 'fr', 'C1', 'Français C1', 40, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "fr", "level": "C1", "count": 6}]}]', 'autosubmit', 0),
    ('FR-C2', 'language', 'fr', 'C2', 'Français C2', 45, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "fr", "level": "C2", "count": 6}]}]', 'autosubmit', 0),
    ('EN-A1', 'language', 'en', 'A1', 'English A1', 20, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "en", "level": "A1", "count": 6}]}]', 'autosubmit', 0),
    ('EN-A2', 'language', 'en', 'A2', 'English A2', 25, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "en", "level": "A2", "count": 6}]}]', 'autosubmit', 0),
    ('EN-B1', 'language', 'en', 'B1', 'English B1', 30, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "en", "level": "B1", "count": 6}]}]', 'autosubmit', 0),
    ('EN-B2', 'language', 'en', 'B2', 'English B2', 35, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "en", "level": "B2", "count": 6}]}]', 'autosubmit', 0),
    ('EN-C1', 'language', 'en', 'C1', 'English C1', 40, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "en", "level": "C1", "count": 6}]}]', 'autosubmit', 0),
    ('EN-C2', 'language', 'en', 'C2', 'English C2', 45, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "en", "level": "C2", "count": 6}]}]', 'autosubmit', 0),
    ('ES-A1', 'language', 'es', 'A1', 'Español A1', 20, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "es", "level": "A1", "count": 6}]}]', 'autosubmit', 0),
    ('ES-A2', 'language', 'es', 'A2', 'Español A2', 25, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "es", "level": "A2", "count": 6}]}]', 'autosubmit', 0),
    ('ES-B1', 'language', 'es', 'B1', 'Español B1', 30, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "es", "level": "B1", "count": 6}]}]', 'autosubmit', 0),
    ('ES-B2', 'language', 'es', 'B2', 'Español B2', 35, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "es", "level": "B2", "count": 6}]}]', 'autosubmit', 0),
    ('ES-C1', 'language', 'es', 'C1', 'Español C1', 40, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "es", "level": "C1", "count": 6}]}]', 'autosubmit', 0),
    ('ES-C2', 'language', 'es', 'C2', 'Español C2', 45, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "es", "level": "C2", "count": 6}]}]', 'autosubmit', 0),
    ('AR-A1', 'language', 'ar', 'A1', 'العربية A1', 20, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "ar", "level": "A1", "count": 6}]}]', 'autosubmit', 0),
    ('AR-A2', 'language', 'ar', 'A2', 'العربية A2', 25, 60, 1, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "ar", "level": "A2", "count": 6}]}]', 'autosubmit', 0),
    ('AR-B1', 'language', 'ar', 'B1', 'العربية B1', 30, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "ar", "level": "B1", "count": 6}]}]', 'autosubmit', 0),
    ('AR-B2', 'language', 'ar', 'B2', 'العربية B2', 35, 60, 2, 'free', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "ar", "level": "B2", "count": 6}]}]', 'autosubmit', 0),
    ('AR-C1', 'language', 'ar', 'C1', 'العربية C1', 40, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "ar", "level": "C1", "count": 6}]}]', 'autosubmit', 0),
    ('AR-C2', 'language', 'ar', 'C2', 'العربية C2', 45, 60, 3, 'pro', '[{"key": "vocabulary", "name": "Vocabulaire", "pass_mark": 50, "sources": [{"bank": "vocabulary", "language": "ar", "level": "C2", "count": 6}]}]', 'autosubmit', 0),
    ('WSET-L1', 'wine', NULL, 'L1', 'Wine Level 1 (WSET-style)', 45, 70, 2, 'free', '[{"key": "theory", "name": "Theory", "pass_mark": 70, "sources": [{"bank": "wine", "section": "L1", "count": 6}]}]', 'grace', 5),
    ('WSET-L2', 'wine', NULL, 'L2', 'Wine Level 2 (WSET-style)', 60, 55, 3, 'free', '[{"key": "theory", "name": "Theory", "pass_mark": 55, "sources": [{"bank": "wine", "section": "L2", "count": 6}]}]', 'grace', 5),
    ('WSET-L3', 'wine', NULL, 'L3', 'Wine Level 3 (WSET-style): theory and tasting', 90, 55, 4, 'pro', '[{"key": "theory", "name": "Theory", "pass_mark": 55, "sources": [{"bank": "wine", "section": "L3", "count": 6}]}, {"key": "tasting", "name": "Tasting", "pass_mark": 55, "sources": [{"bank": "wine", "section": "L3-tasting", "count": 4}]}]', 'abandon', 0),
    ('MATHS-PROP', 'maths', NULL, '6e', 'Mathématiques : proportionnalité', 15, 60, 1, 'free', '[{"key": "problems", "name": "Problèmes", "pass_mark": 60, "sources": [{"generator": "proportionality", "count": 5}]}]', 'autosubmit', 0),
    ('MATHS-CM2', 'maths', NULL, 'CM2', 'Mathématiques CM2 : calcul et problèmes', 30, 60, 2, 'pro', '[{"key": "calculation", "name": "Calcul", "pass_mark": 50, "sources": [{"generator": "mental_arithmetic", "count": 4}, {"generator": "fraction_simplification", "count": 3}]}, {"key": "problems", "name": "Problèmes", "pass_mark": 50, "sources": [{"generator": "proportionality", "count": 2}, {"generator": "multiplicative_reasoning", "count": 3}]}]', 'grace', 2);

CREATE TABLE exam_attempts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id         uuid NOT NULL REFERENCES students (id),
    exam_code          text NOT NULL REFERENCES exam_definitions (code),
    status             text NOT NULL
                       CHECK (status IN ('IN_PROGRESS', 'GRADED', 'OVERDUE', 'ABANDONED')),
    seed               bigint NOT NULL,
    -- the questions as generated from the seed, answer keys included: never sent to clients
    questions          jsonb NOT NULL,
    started_at         timestamptz NOT NULL DEFAULT now(),
    deadline_at        timestamptz NOT NULL CHECK (deadline_at > started_at),
    debit_entry_id     bigint NOT NULL UNIQUE REFERENCES ledger_entries (id),
    started_by         uuid NOT NULL REFERENCES users (id),
    submitted_at       timestamptz,
    answers            jsonb,
    submission_hash    text,
    score              integer CHECK (score BETWEEN 0 AND 100),
    passed             boolean,
    component_scores   jsonb,
    finalised_by       text CHECK (finalised_by IN ('student', 'sweeper')),
    certificate_requested_at timestamptz,
    CHECK ((status = 'GRADED') = (score IS NOT NULL AND passed IS NOT NULL))
);
-- One open attempt per student and exam; starting again returns it.
CREATE UNIQUE INDEX exam_attempts_one_open ON exam_attempts (student_id, exam_code)
    WHERE status = 'IN_PROGRESS';
CREATE INDEX exam_attempts_open_deadline ON exam_attempts (deadline_at)
    WHERE status = 'IN_PROGRESS';
CREATE INDEX exam_attempts_student_idx ON exam_attempts (student_id, started_at DESC);
CREATE INDEX exam_attempts_certificate_due ON exam_attempts (id)
    WHERE passed AND certificate_requested_at IS NULL;
