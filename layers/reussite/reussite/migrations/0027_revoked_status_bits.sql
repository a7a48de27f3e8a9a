-- A status list reads only its revoked bits: a partial index holds just those, so a list costs
-- the revocations in its range, not the 131,072 certificates it spans.
CREATE INDEX certificates_revoked_status_idx ON certificates (status_index)
    WHERE revoked_at IS NOT NULL;
