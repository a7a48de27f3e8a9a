-- An exam start's Idempotency-Key is kept on its attempt, unique per caller: the database, not
-- the idempotency store, replays a start and refuses its key reused for another student (a
-- parent's other child), so the front door stores no answer for a start (one DynamoDB call a
-- start instead of two). The ledger's key (unique per wallet) already replays a repeat for the
-- same student and refuses it for another exam; this covers the caller's other wallets.
ALTER TABLE exam_attempts ADD COLUMN start_key text;
CREATE UNIQUE INDEX exam_attempts_start_key ON exam_attempts (started_by, start_key)
    WHERE start_key IS NOT NULL;
