-- ARIA, the AI tutor: subjects a plan includes (data), the subjects a subscription chose,
-- pedagogical content searched by PostgreSQL full-text search (French, accents ignored),
-- conversations and messages, a daily quota per student, feedback, the public widget's
-- sessions and counters, and the leads it captures.

CREATE TABLE aria_subjects (
    code  text PRIMARY KEY CHECK (code ~ '^[A-Z_]{2,30}$'),
    name  text NOT NULL
);
INSERT INTO aria_subjects (code, name) VALUES
    ('MATHEMATIQUES', 'Mathématiques'), ('NSI', 'Numérique et sciences informatiques'),
    ('FRANCAIS', 'Français'), ('PHILOSOPHIE', 'Philosophie'),
    ('HISTOIRE_GEO', 'Histoire-géographie'), ('ANGLAIS', 'Anglais'), ('ESPAGNOL', 'Espagnol'),
    ('PHYSIQUE_CHIMIE', 'Physique-chimie'), ('SVT', 'Sciences de la vie et de la Terre'),
    ('SES', 'Sciences économiques et sociales');

-- How many subjects a plan includes and how many messages a day its student may send.
ALTER TABLE plans ADD COLUMN aria_subjects integer NOT NULL DEFAULT 0 CHECK (aria_subjects >= 0);
ALTER TABLE plans ADD COLUMN aria_daily_messages integer NOT NULL DEFAULT 0
    CHECK (aria_daily_messages >= 0);
UPDATE plans SET aria_subjects = 1, aria_daily_messages = 30 WHERE code = 'ACCES_PLATEFORME';
UPDATE plans SET aria_subjects = 2, aria_daily_messages = 60 WHERE code = 'HYBRIDE';
UPDATE plans SET aria_subjects = 4, aria_daily_messages = 120 WHERE code = 'IMMERSION';

-- The subjects chosen at checkout (kept on the order) and on the subscription they pay for;
-- the payer changes them later.
ALTER TABLE orders ADD COLUMN aria_subjects text[] NOT NULL DEFAULT '{}';
ALTER TABLE subscriptions ADD COLUMN aria_subjects text[] NOT NULL DEFAULT '{}';

-- A student's school level (the questionnaire's vocabulary): ARIA answers for it.
ALTER TABLE students ADD COLUMN school_level text CHECK (length(school_level) <= 40);

-- Accents ignored by search on any PostgreSQL (the unaccent extension is not everywhere).
CREATE FUNCTION reussite_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT translate($1,
        'àâäáãåçéèêëíìîïñóòôöõúùûüýÿœæÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ',
        'aaaaaaceeeeiiiinooooouuuuyyoaAAAAAACEEEEIIIINOOOOOUUUUYY')
$$;

CREATE TABLE pedagogical_content (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject       text NOT NULL REFERENCES aria_subjects (code),
    school_level  text NOT NULL CHECK (length(school_level) BETWEEN 1 AND 40),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    search        tsvector GENERATED ALWAYS AS (
                      to_tsvector('french', reussite_unaccent(title || ' ' || body))) STORED,
    active        boolean NOT NULL DEFAULT true,
    created_by    uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Searched within a subject and level (reussite/aria/content.py says why there is no GIN index).
CREATE INDEX pedagogical_content_subject ON pedagogical_content (subject, school_level)
    WHERE active;

CREATE TABLE aria_conversations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id    uuid NOT NULL REFERENCES students (id),
    subject       text NOT NULL REFERENCES aria_subjects (code),
    school_level  text,
    title         text NOT NULL,
    messages      integer NOT NULL DEFAULT 0 CHECK (messages >= 0),
    created_by    uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX aria_conversations_student ON aria_conversations (student_id, updated_at DESC, id);

CREATE TABLE aria_messages (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id  uuid NOT NULL REFERENCES aria_conversations (id),
    role             text NOT NULL CHECK (role IN ('student', 'aria')),
    content          text NOT NULL CHECK (length(content) BETWEEN 1 AND 20000),
    -- the student's message carries the key of the request that sent it; ARIA's the answer to it
    idempotency_key  text,
    sent_by          uuid REFERENCES users (id),
    request_hash     text,
    reply_to         uuid REFERENCES aria_messages (id),
    model            text,
    latency_ms       integer,
    tokens           integer,
    helpful          boolean,
    feedback_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (sent_by, idempotency_key)
);
CREATE INDEX aria_messages_conversation ON aria_messages (conversation_id, created_at);

-- A message being answered: claimed with its key before the tutor is called, gone when the
-- message and its reply are stored (or the tutor failed). A repeat of the key meanwhile waits
-- for the reply instead of calling the tutor again.
CREATE TABLE aria_pending (
    sent_by          uuid NOT NULL REFERENCES users (id),
    idempotency_key  text NOT NULL,
    request_hash     text NOT NULL,
    claimed_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (sent_by, idempotency_key)
);

-- One row per student and day: messages used against the plan's daily quota.
CREATE TABLE aria_usage (
    student_id  uuid NOT NULL REFERENCES students (id),
    day         date NOT NULL,
    used        integer NOT NULL CHECK (used >= 0),
    PRIMARY KEY (student_id, day)
);

-- The public widget: a session per visitor, counters per client address and hour.
CREATE TABLE aria_widget_sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client      text NOT NULL,
    exchanges   integer NOT NULL DEFAULT 0,   -- quiz answers given
    messages    integer NOT NULL DEFAULT 0,   -- every message, off-topic ones included
    answers     jsonb NOT NULL DEFAULT '[]',
    lead_id     uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE aria_widget_counters (
    client  text NOT NULL,
    hour    timestamptz NOT NULL,
    used    integer NOT NULL,
    PRIMARY KEY (client, hour)
);

CREATE TABLE leads (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 320),
    consent     boolean NOT NULL,
    tag         text NOT NULL,
    profile     text,
    source      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
