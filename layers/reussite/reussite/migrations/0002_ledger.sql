-- Credits ledger: lots with expiry, append-only entries, per-spend lot allocations, audit.
-- Every change to a wallet's lots, entries or balance happens under that wallet's row lock.

CREATE TABLE credit_lots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_id    uuid NOT NULL REFERENCES wallets (id),
    kind         text NOT NULL
                 CHECK (kind IN ('PURCHASE', 'MONTHLY_ALLOCATION', 'REFUND', 'PROMOTION', 'GOODWILL')),
    promotional  boolean GENERATED ALWAYS AS (kind IN ('PROMOTION', 'GOODWILL')) STORED,
    amount       integer NOT NULL CHECK (amount > 0),
    remaining    integer NOT NULL CHECK (remaining >= 0),
    granted_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL CHECK (expires_at > granted_at)
) WITH (fillfactor = 70);
-- No index mentions `remaining` (not even in a predicate) and pages keep free room, so spends and
-- expiries update lots in place (HOT) without touching any index.
CREATE INDEX credit_lots_wallet_idx ON credit_lots (wallet_id, expires_at);
CREATE INDEX credit_lots_expiry_idx ON credit_lots (expires_at);

-- Append-only. Amounts are signed: grants and refunds add, spends and expiries take away.
CREATE TABLE ledger_entries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_id        uuid NOT NULL REFERENCES wallets (id),
    kind             text NOT NULL CHECK (kind IN ('GRANT', 'SPEND', 'REFUND', 'EXPIRE')),
    amount           integer NOT NULL,
    lot_id           bigint REFERENCES credit_lots (id),
    refund_of        bigint REFERENCES ledger_entries (id),
    idempotency_key  text,
    purpose          text NOT NULL,
    actor_id         uuid REFERENCES users (id),
    balance_after    integer CHECK (balance_after >= 0),  -- spendable balance the caller saw
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (CASE kind WHEN 'GRANT' THEN amount > 0 AND lot_id IS NOT NULL
                     WHEN 'SPEND' THEN amount < 0
                     WHEN 'REFUND' THEN amount >= 0 AND refund_of IS NOT NULL
                     WHEN 'EXPIRE' THEN amount < 0 END),
    CHECK (kind = 'EXPIRE' OR idempotency_key IS NOT NULL)
);
-- Every grant, spend and refund carries a key, unique per wallet (expiries are keyed by lot).
CREATE UNIQUE INDEX ledger_entries_key ON ledger_entries (wallet_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX ledger_entries_wallet_idx ON ledger_entries (wallet_id, id DESC);
-- A spend is refunded once.
CREATE UNIQUE INDEX ledger_entries_refund_once ON ledger_entries (refund_of) WHERE kind = 'REFUND';

-- Expiry: each run writes one EXPIRE entry per wallet, and each lot it expired records, once, how
-- many credits it lost and under which entry: UNIQUE (lot, expiry) by construction, since a lot
-- row holds at most one expiry. Per-lot ledger rows cost 27 µs a lot here, half of it foreign-key
-- checks; this costs one row update. The link to the entry has no foreign key for the same
-- reason (6.5 µs a lot): the invariant check verifies it instead.
ALTER TABLE credit_lots
    ADD COLUMN expired integer NOT NULL DEFAULT 0 CHECK (expired >= 0),
    ADD COLUMN expiry_entry_id bigint,
    ADD CHECK ((expired > 0) = (expiry_entry_id IS NOT NULL)),
    ADD CHECK (remaining + expired <= amount);

-- How far the expiry job has got: after a complete run at `cutoff`, no lot expiring before it
-- holds credits (a refund never returns credits to an expired lot), so the next run only looks
-- at lots expiring since (with a margin); the invariant check flags any lot left behind.
CREATE TABLE job_watermarks (
    job         text PRIMARY KEY,
    cutoff      timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Which lots a spend drew from, and which lots a refund gave back to (grants and expiries name
-- their one lot on the entry). So every lot's remaining can be re-derived from the entries.
CREATE TABLE entry_allocations (
    entry_id  bigint NOT NULL REFERENCES ledger_entries (id),
    lot_id    bigint NOT NULL REFERENCES credit_lots (id),
    amount    integer NOT NULL CHECK (amount > 0),
    PRIMARY KEY (entry_id, lot_id)
);
CREATE INDEX entry_allocations_lot_idx ON entry_allocations (lot_id);

CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: reverse an entry instead';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

-- Who did what to whom, for staff actions (grants, confirmations, results...). Append-only.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    uuid REFERENCES users (id),
    action      text NOT NULL,
    subject     text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, id);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

-- Plans and subscriptions: what a family pays for each month, and the credits it brings.
CREATE TABLE plans (
    code               text PRIMARY KEY,
    name               text NOT NULL,
    price_minor        bigint NOT NULL CHECK (price_minor > 0),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    credits_per_month  integer NOT NULL CHECK (credits_per_month >= 0),
    offer              text NOT NULL CHECK (offer IN ('free', 'pro')),
    active             boolean NOT NULL DEFAULT true
);
INSERT INTO plans (code, name, price_minor, currency, credits_per_month, offer) VALUES
    ('ACCES_PLATEFORME', 'Accès plateforme', 79000, 'TND', 4, 'pro'),
    ('HYBRIDE', 'Hybride', 179000, 'TND', 10, 'pro'),
    ('IMMERSION', 'Immersion', 299000, 'TND', 20, 'pro');

CREATE TABLE subscriptions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id    uuid NOT NULL REFERENCES students (id),
    plan_code     text NOT NULL REFERENCES plans (code),
    status        text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'CANCELLED', 'EXPIRED')),
    started_at    timestamptz,
    ended_at      timestamptz,
    created_by    uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX subscriptions_one_active ON subscriptions (student_id) WHERE status = 'ACTIVE';

-- A subscription's credits for a month are granted once: the lot is recorded per period.
CREATE TABLE subscription_allocations (
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    period           date NOT NULL CHECK (extract(day FROM period) = 1),
    lot_id           bigint NOT NULL REFERENCES credit_lots (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription_id, period)
);
