-- A staff grant's Idempotency-Key names one request of that member of staff, whichever student
-- it was for: the same key for another student (or amount, kind, reason) is refused, where the
-- ledger's key (per wallet) alone would have granted again.
CREATE TABLE staff_grant_keys (
    actor_id         uuid NOT NULL REFERENCES users (id),
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) <= 200),
    student_id       uuid NOT NULL REFERENCES students (id),
    request_hash     text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, idempotency_key)
);
