-- Starting an ARIA conversation and writing a piece of content create rows: each takes an
-- Idempotency-Key, kept with the request's fingerprint, one row per (author, key).
ALTER TABLE aria_conversations ADD COLUMN idempotency_key text
    CHECK (length(idempotency_key) <= 200);
ALTER TABLE aria_conversations ADD COLUMN request_hash text;
ALTER TABLE aria_conversations
    ADD CONSTRAINT aria_conversations_key UNIQUE (created_by, idempotency_key);
ALTER TABLE pedagogical_content ADD COLUMN idempotency_key text
    CHECK (length(idempotency_key) <= 200);
ALTER TABLE pedagogical_content ADD COLUMN request_hash text;
ALTER TABLE pedagogical_content
    ADD CONSTRAINT pedagogical_content_key UNIQUE (created_by, idempotency_key);
