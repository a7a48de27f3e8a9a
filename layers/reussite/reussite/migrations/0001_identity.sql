-- Identity: users provisioned from their token, student profiles, parents acting for students.

CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sub         text NOT NULL UNIQUE,
    email       text,
    name        text,
    role        text NOT NULL CHECK (role IN ('ELEVE', 'PARENT', 'COACH', 'ASSISTANTE', 'ADMIN')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A student profile is what credits, attempts and certificates belong to. It has its own login
-- (user_id) when the student signs in (an ELEVE); a parent may create it before that.
CREATE TABLE students (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid UNIQUE REFERENCES users (id),
    display_name     text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    created_by       uuid NOT NULL REFERENCES users (id),
    self_provisioned boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE parent_students (
    parent_id   uuid NOT NULL REFERENCES users (id),
    student_id  uuid NOT NULL REFERENCES students (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_id, student_id)
);
CREATE INDEX parent_students_student_idx ON parent_students (student_id);

-- One-time codes a parent hands to a child so the child's own login takes over the profile.
-- Only a hash is stored.
CREATE TABLE student_link_codes (
    code_hash   bytea PRIMARY KEY,
    student_id  uuid NOT NULL REFERENCES students (id),
    created_by  uuid NOT NULL REFERENCES users (id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     uuid REFERENCES users (id)
);
CREATE INDEX student_link_codes_student_idx ON student_link_codes (student_id);

-- Every student owns one wallet. The ledger (lots, entries) builds on it.
CREATE TABLE wallets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id  uuid NOT NULL UNIQUE REFERENCES students (id),
    balance     integer NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
