-- Tutoring: coaches with subjects and weekly availability, service types with credit costs,
-- sessions in a coach's agenda (never overlapping), and students' bookings of them.

CREATE TABLE coaches (
    user_id       uuid PRIMARY KEY REFERENCES users (id),
    display_name  text NOT NULL,
    subjects      text[] NOT NULL CHECK (cardinality(subjects) > 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Weekly slots in the school's time zone (ISO weekday: 1 = Monday).
CREATE TABLE coach_availability (
    coach_id  uuid NOT NULL REFERENCES coaches (user_id),
    weekday   integer NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts    time NOT NULL,
    ends      time NOT NULL CHECK (ends > starts),
    PRIMARY KEY (coach_id, weekday, starts)
);

CREATE TABLE tutoring_services (
    code              text PRIMARY KEY,
    name              text NOT NULL,
    mode              text NOT NULL CHECK (mode IN ('ONLINE', 'IN_PERSON', 'GROUP')),
    credits           integer NOT NULL CHECK (credits > 0),
    duration_minutes  integer NOT NULL CHECK (duration_minutes > 0),
    capacity          integer NOT NULL DEFAULT 1 CHECK (capacity > 0)
);
INSERT INTO tutoring_services (code, name, mode, credits, duration_minutes, capacity) VALUES
    ('COURS_EN_LIGNE', 'Cours particulier en ligne', 'ONLINE', 1, 60, 1),
    ('COURS_PRESENTIEL', 'Cours particulier en présentiel', 'IN_PERSON', 2, 60, 1),
    ('ATELIER_GROUPE', 'Atelier en petit groupe', 'GROUP', 1, 90, 6);

-- A slot of a coach's agenda. Bookings take the coach's row lock first, so two sessions of a
-- coach never overlap (checked under that lock).
CREATE TABLE tutoring_sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    coach_id      uuid NOT NULL REFERENCES coaches (user_id),
    service_code  text NOT NULL REFERENCES tutoring_services (code),
    subject       text NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL CHECK (ends_at > starts_at),
    status        text NOT NULL CHECK (status IN ('SCHEDULED', 'CANCELLED', 'COMPLETED')),
    room_url      text NOT NULL UNIQUE,
    report        text,
    reported_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tutoring_sessions_coach_idx ON tutoring_sessions (coach_id, starts_at);

CREATE TABLE tutoring_bookings (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id        uuid NOT NULL REFERENCES tutoring_sessions (id),
    student_id        uuid NOT NULL REFERENCES students (id),
    status            text NOT NULL CHECK (status IN ('BOOKED', 'CANCELLED', 'ATTENDED', 'NO_SHOW')),
    credits           integer NOT NULL,
    spend_entry_id    bigint REFERENCES ledger_entries (id),
    refund_entry_id   bigint REFERENCES ledger_entries (id),
    idempotency_key   text NOT NULL,
    booked_by         uuid NOT NULL REFERENCES users (id),
    cancelled_by      uuid REFERENCES users (id),
    cancelled_at      timestamptz,
    reminder_sent_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (booked_by, idempotency_key)
);
CREATE UNIQUE INDEX tutoring_bookings_once ON tutoring_bookings (session_id, student_id)
    WHERE status <> 'CANCELLED';
CREATE INDEX tutoring_bookings_reminder_idx ON tutoring_bookings (session_id)
    WHERE status = 'BOOKED' AND reminder_sent_at IS NULL;
