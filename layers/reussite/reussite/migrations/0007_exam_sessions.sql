-- Scheduled sittings for schools (WSET-style): qualifications as data, course offerings and
-- their exam templates, exam sessions with a capacity, registrations, per-component results,
-- outcomes (each a version: a regrade supersedes one), and result enquiries.

CREATE TABLE qualifications (
    code                   text PRIMARY KEY,
    name                   text NOT NULL,
    level                  text NOT NULL,
    merit_mark             integer CHECK (merit_mark BETWEEN 0 AND 100),        -- NULL: no band
    distinction_mark       integer CHECK (distinction_mark BETWEEN 0 AND 100),
    carry_forward          boolean NOT NULL,  -- a passed component counts at a resit
    resit_grade_cap        text CHECK (resit_grade_cap IN ('PASS', 'MERIT')),  -- NULL: no cap
    exam_day               text NOT NULL CHECK (exam_day IN ('SAME_DAY', 'FINAL_DAY')),
    enquiry_weeks          integer NOT NULL CHECK (enquiry_weeks > 0),
    remote_window_days     integer NOT NULL DEFAULT 365,  -- remote invigilation after enrolment
    remote_lead_days       integer NOT NULL DEFAULT 7,    -- booked at least this long ahead
    -- fees, in credits, charged through the ledger
    fee_standalone         integer NOT NULL CHECK (fee_standalone >= 0),
    fee_makeup             integer NOT NULL CHECK (fee_makeup >= 0),
    fee_resit              integer NOT NULL CHECK (fee_resit >= 0),
    fee_remote             integer NOT NULL CHECK (fee_remote >= 0),
    fee_enquiry_component  integer NOT NULL CHECK (fee_enquiry_component >= 0),
    fee_enquiry_all        integer NOT NULL CHECK (fee_enquiry_all >= 0)
);

CREATE TABLE qualification_components (
    qualification_code  text NOT NULL REFERENCES qualifications (code),
    component           text NOT NULL CHECK (component IN ('THEORY', 'TASTING', 'COMBINED')),
    name                text NOT NULL,
    pass_mark           integer NOT NULL DEFAULT 55 CHECK (pass_mark BETWEEN 0 AND 100),
    weight              integer NOT NULL DEFAULT 1 CHECK (weight > 0),
    PRIMARY KEY (qualification_code, component)
);

INSERT INTO qualifications (code, name, level, merit_mark, distinction_mark, carry_forward,
                            resit_grade_cap, exam_day, enquiry_weeks, fee_standalone, fee_makeup,
                            fee_resit, fee_remote, fee_enquiry_component, fee_enquiry_all) VALUES
    ('WINE-L1', 'Award in Wines (WSET-style)', 'Level 1', NULL, NULL, false, NULL, 'SAME_DAY',
     6, 2, 1, 1, 1, 1, 1),
    ('WINE-L2', 'Award in Wines (WSET-style)', 'Level 2', 70, 85, false, NULL, 'FINAL_DAY',
     6, 3, 2, 2, 2, 2, 2),
    ('WINE-L3', 'Award in Wines (WSET-style)', 'Level 3', 65, 80, true, 'PASS', 'FINAL_DAY',
     12, 5, 3, 3, 2, 2, 3);
INSERT INTO qualification_components (qualification_code, component, name, pass_mark, weight)
VALUES
    ('WINE-L1', 'COMBINED', 'Multiple-choice paper', 70, 1),
    ('WINE-L2', 'COMBINED', 'Multiple-choice paper', 55, 1),
    ('WINE-L3', 'THEORY', 'Theory: multiple-choice and short written answers', 55, 1),
    ('WINE-L3', 'TASTING', 'Blind tasting of two wines', 55, 1);

CREATE TABLE course_offerings (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    qualification_code  text NOT NULL REFERENCES qualifications (code),
    name                text NOT NULL,
    created_by          uuid NOT NULL REFERENCES users (id),
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- What an offering's courses end with: the components sat together, and on which course day.
CREATE TABLE exam_templates (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    offering_id  uuid NOT NULL REFERENCES course_offerings (id),
    components   text[] NOT NULL CHECK (cardinality(components) > 0),
    exam_day     text NOT NULL CHECK (exam_day IN ('SAME_DAY', 'FINAL_DAY')),
    UNIQUE (offering_id, components)
);

CREATE TABLE course_sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    offering_id  uuid NOT NULL REFERENCES course_offerings (id),
    starts_on    date NOT NULL,
    ends_on      date NOT NULL CHECK (ends_on >= starts_on),
    location     text,
    remote       boolean NOT NULL,
    capacity     integer NOT NULL CHECK (capacity > 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exam_sessions (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    qualification_code     text NOT NULL REFERENCES qualifications (code),
    type                   text NOT NULL
                           CHECK (type IN ('BUNDLED', 'MAKEUP', 'RESIT', 'REMOTE', 'STANDALONE')),
    template_id            uuid REFERENCES exam_templates (id),
    course_session_id      uuid REFERENCES course_sessions (id),
    components             text[] NOT NULL CHECK (cardinality(components) > 0),
    starts_at              timestamptz NOT NULL,
    location               text,
    remote                 boolean NOT NULL,
    proctor_id             uuid REFERENCES users (id),
    capacity               integer NOT NULL CHECK (capacity > 0),
    registered             integer NOT NULL DEFAULT 0,
    registration_deadline  timestamptz NOT NULL CHECK (registration_deadline <= starts_at),
    created_at             timestamptz NOT NULL DEFAULT now(),
    -- never overbooked: a seat is taken by an UPDATE that this check guards
    CHECK (registered BETWEEN 0 AND capacity),
    CHECK ((type = 'BUNDLED') = (course_session_id IS NOT NULL)),
    UNIQUE (course_session_id, template_id)
);
CREATE INDEX exam_sessions_open_idx ON exam_sessions (qualification_code, type, starts_at);

-- A student's enrolment in a qualification (a course, or online study): the start of the
-- remote-invigilation window.
CREATE TABLE enrolments (
    student_id          uuid NOT NULL REFERENCES students (id),
    qualification_code  text NOT NULL REFERENCES qualifications (code),
    online              boolean NOT NULL,
    enrolled_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (student_id, qualification_code)
);

CREATE TABLE exam_registrations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id       uuid NOT NULL REFERENCES exam_sessions (id),
    student_id       uuid NOT NULL REFERENCES students (id),
    components       text[] NOT NULL CHECK (cardinality(components) > 0),  -- to be sat
    status           text NOT NULL CHECK (status IN ('REGISTERED', 'ABSENT', 'SAT')),
    fee_credits      integer NOT NULL DEFAULT 0,
    fee_entry_id     bigint REFERENCES ledger_entries (id),
    idempotency_key  text NOT NULL,
    registered_by    uuid NOT NULL REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, student_id),
    UNIQUE (registered_by, idempotency_key)
);
CREATE INDEX exam_registrations_student_idx ON exam_registrations (student_id, created_at);

-- Scores per component and sitting, entered by staff; a regrade after an enquiry replaces a
-- score (the audit log keeps every value it ever had).
CREATE TABLE component_results (
    registration_id  uuid NOT NULL REFERENCES exam_registrations (id),
    component        text NOT NULL,
    score            integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    entered_by       uuid NOT NULL REFERENCES users (id),
    entered_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (registration_id, component)
);

-- The student's result in the qualification after a sitting, as computed by the rules. A
-- regrade computes a new one and supersedes the old; a certificate belongs to one outcome.
CREATE TABLE qualification_outcomes (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id          uuid NOT NULL REFERENCES students (id),
    qualification_code  text NOT NULL REFERENCES qualifications (code),
    registration_id     uuid NOT NULL REFERENCES exam_registrations (id),
    components          jsonb NOT NULL,  -- {component: {score, passed, carried}}
    passed              boolean NOT NULL,
    grade               text NOT NULL CHECK (grade IN ('FAIL', 'PASS', 'MERIT', 'DISTINCTION')),
    percent             integer NOT NULL CHECK (percent BETWEEN 0 AND 100),
    created_at          timestamptz NOT NULL DEFAULT now(),
    superseded_at       timestamptz
);
CREATE UNIQUE INDEX qualification_outcomes_current ON qualification_outcomes (registration_id)
    WHERE superseded_at IS NULL;

CREATE TABLE result_enquiries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    registration_id  uuid NOT NULL REFERENCES exam_registrations (id),
    components       text[] NOT NULL CHECK (cardinality(components) > 0),
    status           text NOT NULL
                     CHECK (status IN ('SUBMITTED', 'UNDER_REVIEW', 'UPHELD', 'REJECTED', 'PARTIAL')),
    fee_credits      integer NOT NULL,
    fee_entry_id     bigint REFERENCES ledger_entries (id),
    refund_entry_id  bigint REFERENCES ledger_entries (id),
    idempotency_key  text NOT NULL,
    requested_by     uuid NOT NULL REFERENCES users (id),
    decided_by       uuid REFERENCES users (id),
    decision_note    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    UNIQUE (requested_by, idempotency_key)
);
-- One open enquiry per sitting at a time.
CREATE UNIQUE INDEX result_enquiries_open ON result_enquiries (registration_id)
    WHERE status IN ('SUBMITTED', 'UNDER_REVIEW');

-- Certificates now come from a passed online attempt or from a qualification outcome.
ALTER TABLE certificates ALTER COLUMN attempt_id DROP NOT NULL;
ALTER TABLE certificates ADD COLUMN outcome_id uuid UNIQUE REFERENCES qualification_outcomes (id);
ALTER TABLE certificates ADD CHECK (num_nonnulls(attempt_id, outcome_id) = 1);
