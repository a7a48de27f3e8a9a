-- The ledger's periodic checks look at what changed, not at the whole ledger: the entries
-- written since a watermark (BRIN: entries are appended in time order, so the index is a few
-- pages however long the ledger grows), the plan allocations made since.
CREATE INDEX ledger_entries_created_brin ON ledger_entries USING brin (created_at);
CREATE INDEX subscription_allocations_created_idx ON subscription_allocations (created_at);

-- The rolling full check's place: each run checks a slice of wallets after `after_wallet`, one
-- committed batch at a time; a pass that reaches the last wallet records when and starts over,
-- so a row changed behind the ledger's back (no entry) is found within one pass.
CREATE TABLE ledger_sweep (
    only_row                boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    after_wallet            uuid,
    pass_started_at         timestamptz NOT NULL DEFAULT now(),
    last_pass_completed_at  timestamptz,
    last_pass_wallets       bigint NOT NULL DEFAULT 0,
    pass_wallets            bigint NOT NULL DEFAULT 0
);
INSERT INTO ledger_sweep DEFAULT VALUES;
