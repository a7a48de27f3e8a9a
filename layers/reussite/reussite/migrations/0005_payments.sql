-- Payments: products as data, orders created before any provider is called, provider events
-- processed once, and an outbox for the emails a committed state change owes somebody.

CREATE TABLE products (
    code          text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_]{1,40}$'),
    kind          text NOT NULL CHECK (kind IN ('CREDIT_PACK', 'SUBSCRIPTION')),
    name          text NOT NULL,
    price_minor   bigint NOT NULL CHECK (price_minor > 0),  -- millimes for TND, cents for EUR
    currency      text NOT NULL CHECK (currency IN ('TND', 'EUR', 'USD')),
    credits       integer NOT NULL CHECK (credits > 0),     -- a pack's credits, a plan's monthly
    plan_code     text REFERENCES plans (code),
    active        boolean NOT NULL DEFAULT true,
    CHECK ((kind = 'SUBSCRIPTION') = (plan_code IS NOT NULL))
);
INSERT INTO products (code, kind, name, price_minor, currency, credits, plan_code) VALUES
    ('PACK_5', 'CREDIT_PACK', 'Pack 5 crédits', 50000, 'TND', 5, NULL),
    ('PACK_10', 'CREDIT_PACK', 'Pack 10 crédits', 90000, 'TND', 10, NULL),
    ('PACK_20', 'CREDIT_PACK', 'Pack 20 crédits', 160000, 'TND', 20, NULL),
    ('PACK_10_EUR', 'CREDIT_PACK', 'Pack 10 crédits (EUR)', 3000, 'EUR', 10, NULL);
INSERT INTO products (code, kind, name, price_minor, currency, credits, plan_code)
SELECT code, 'SUBSCRIPTION', name, price_minor, currency, credits_per_month, code FROM plans;

CREATE TABLE orders (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference         text NOT NULL UNIQUE CHECK (reference ~ '^RSS-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
    buyer_id          uuid NOT NULL REFERENCES users (id),
    student_id        uuid NOT NULL REFERENCES students (id),
    product_code      text NOT NULL REFERENCES products (code),
    amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
    currency          text NOT NULL,
    provider          text NOT NULL CHECK (provider IN ('KONNECT', 'WISE')),
    -- CREATED: ours only (Konnect not answered yet); PENDING: payable; PAID: fulfilled;
    -- MISMATCH: the provider's word disagrees with the order (never fulfilled, alerted);
    -- EXPIRED: the payment's lifespan ended unpaid.
    status            text NOT NULL CHECK (status IN ('CREATED', 'PENDING', 'PAID', 'MISMATCH', 'EXPIRED')),
    idempotency_key   text NOT NULL,
    provider_ref      text,         -- Konnect's paymentRef
    pay_url           text,
    provider_call_at  timestamptz,  -- a checkout is asking the provider (one caller at a time)
    expires_at        timestamptz,
    transfer_id       text,         -- Wise transfer confirmed by staff
    paid_at           timestamptz,
    lot_id            bigint REFERENCES credit_lots (id),
    subscription_id   uuid REFERENCES subscriptions (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (buyer_id, idempotency_key),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL)),
    CHECK (status <> 'PAID' OR lot_id IS NOT NULL OR subscription_id IS NOT NULL)
);
CREATE UNIQUE INDEX orders_provider_ref ON orders (provider, provider_ref)
    WHERE provider_ref IS NOT NULL;
CREATE UNIQUE INDEX orders_transfer ON orders (provider, transfer_id) WHERE transfer_id IS NOT NULL;
CREATE INDEX orders_open_idx ON orders (provider, status, expires_at)
    WHERE status IN ('CREATED', 'PENDING', 'EXPIRED');
CREATE INDEX orders_buyer_idx ON orders (buyer_id, created_at DESC);

-- Every provider event that changed an order, once: a payment's completion (or mismatch), a
-- bank transfer's confirmation.
CREATE TABLE provider_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider    text NOT NULL CHECK (provider IN ('KONNECT', 'WISE')),
    event_id    text NOT NULL,
    order_id    uuid NOT NULL REFERENCES orders (id),
    kind        text NOT NULL CHECK (kind IN ('COMPLETED', 'MISMATCH', 'CONFIRMED')),
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, event_id)
);
CREATE INDEX provider_events_order_idx ON provider_events (order_id);

-- Emails written in the transaction of the change they announce, sent after it commits (and
-- again by a scheduled job if sending failed). The key makes each email exist once.
CREATE TABLE outbox_emails (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         text NOT NULL UNIQUE,
    recipients  text[] NOT NULL CHECK (cardinality(recipients) > 0),
    subject     text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    sent_at     timestamptz
);
CREATE INDEX outbox_emails_unsent_idx ON outbox_emails (id) WHERE sent_at IS NULL;
