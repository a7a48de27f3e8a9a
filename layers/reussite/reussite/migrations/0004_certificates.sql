-- Certificates: one per passed attempt, ever; a typeable verification code; a signed Open Badges
-- 3.0 credential; a PDF in private S3; revocation with a reason.

ALTER TABLE students ADD COLUMN show_score_on_certificates boolean NOT NULL DEFAULT false;

CREATE TABLE certificates (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    attempt_id      uuid NOT NULL UNIQUE REFERENCES exam_attempts (id),
    student_id      uuid NOT NULL REFERENCES students (id),
    code            text NOT NULL UNIQUE CHECK (code ~ '^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$'),
    holder_name     text NOT NULL,
    qualification   text NOT NULL,
    level           text NOT NULL,
    score           integer CHECK (score BETWEEN 0 AND 100),
    show_score      boolean NOT NULL,
    issuer          text NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    pdf_key         text NOT NULL UNIQUE,
    pdf_stored_at   timestamptz,
    credential      text NOT NULL,
    kid             text NOT NULL,
    emailed_at      timestamptz,
    revoked_at      timestamptz,
    revoked_reason  text,
    revoked_by      uuid REFERENCES users (id),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX certificates_student_idx ON certificates (student_id, issued_at DESC);

-- Public halves of every key that ever signed a credential: rotation keeps old ones published.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
