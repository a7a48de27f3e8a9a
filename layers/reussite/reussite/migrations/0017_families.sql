-- Family sign-up in one step: the parent's profile (the name they gave, phone, language), the
-- children with their level and school, once per (parent, Idempotency-Key); a second parent
-- joins the family with a one-time, expiring invitation code.
ALTER TABLE users ADD COLUMN profile_name text CHECK (length(profile_name) BETWEEN 1 AND 200);
ALTER TABLE users ADD COLUMN phone text CHECK (length(phone) <= 30);
ALTER TABLE users ADD COLUMN language text NOT NULL DEFAULT 'fr'
    CHECK (language IN ('fr', 'ar', 'en'));
ALTER TABLE students ADD COLUMN school text CHECK (length(school) <= 200);

CREATE TABLE family_signups (
    parent_id        uuid NOT NULL REFERENCES users (id),
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) <= 200),
    request_hash     text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_id, idempotency_key)
);

CREATE TABLE family_invitations (
    code_hash   bytea PRIMARY KEY,
    parent_id   uuid NOT NULL REFERENCES users (id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     uuid REFERENCES users (id)
);
