-- Subscriptions are sold per month: one paid order buys one period of one calendar month,
-- anchored on the subscription's start (month-end safe), and a plan's credits are granted once
-- per *paid* period. Before this, a plan paid once was allocated every month for good.

-- Seed 1, scenario 1: choosing HYBRIDE adds 4 credits. Platform access brings a little practice,
-- Immersion the most sessions.
UPDATE plans SET credits_per_month = CASE code
    WHEN 'ACCES_PLATEFORME' THEN 2 WHEN 'HYBRIDE' THEN 4 WHEN 'IMMERSION' THEN 8
    ELSE credits_per_month END;
UPDATE products SET credits = p.credits_per_month FROM plans p WHERE products.plan_code = p.code;

-- ACTIVE: paid for now. PAST_DUE: the period ended, its renewal unpaid, inside the grace period.
-- CANCELLED: ended at the end of a paid period, as the payer asked. EXPIRED: lapsed unpaid.
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check
    CHECK (status IN ('PENDING', 'ACTIVE', 'PAST_DUE', 'CANCELLED', 'EXPIRED'));
ALTER TABLE subscriptions
    ADD COLUMN anchor_on             date,     -- periods are whole months from this day
    ADD COLUMN period_index          integer,  -- the current period: months after the anchor
    ADD COLUMN period_start          date,
    ADD COLUMN period_end            date,     -- exclusive: the first day not paid for
    ADD COLUMN cancel_at_period_end  boolean NOT NULL DEFAULT false,
    ADD COLUMN next_plan_code        text REFERENCES plans (code),  -- a change, from next period
    ADD COLUMN provider              text CHECK (provider IN ('KONNECT', 'WISE')),
    ADD CONSTRAINT subscriptions_period_check CHECK (period_end > period_start);

-- Subscriptions from before: their one payment bought one month from their start.
UPDATE subscriptions
   SET anchor_on = started_at::date, period_index = 0, period_start = started_at::date,
       period_end = (started_at::date + interval '1 month')::date
 WHERE started_at IS NOT NULL;

DROP INDEX subscriptions_one_active;
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (student_id)
    WHERE status IN ('ACTIVE', 'PAST_DUE');
CREATE INDEX subscriptions_lifecycle_idx ON subscriptions (status, period_end)
    WHERE status IN ('ACTIVE', 'PAST_DUE');

-- Every paid period, with the order that paid it (one order buys one period, once).
CREATE TABLE subscription_periods (
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    starts_on        date NOT NULL,
    ends_on          date NOT NULL CHECK (ends_on > starts_on),
    plan_code        text NOT NULL REFERENCES plans (code),
    order_id         uuid UNIQUE REFERENCES orders (id),  -- NULL only for periods from before
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription_id, starts_on)
);
INSERT INTO subscription_periods (subscription_id, starts_on, ends_on, plan_code, order_id)
SELECT s.id, s.period_start, s.period_end, s.plan_code,
       (SELECT o.id FROM orders o WHERE o.subscription_id = s.id AND o.status = 'PAID'
         ORDER BY o.paid_at LIMIT 1)
  FROM subscriptions s WHERE s.period_start IS NOT NULL;

-- An allocation is now keyed by the paid period it belongs to (its start day). Each old
-- subscription's first allocation is its one paid period's; later ones were the minting bug and
-- stay as history (the invariant check reports allocations without a paid period).
ALTER TABLE subscription_allocations DROP CONSTRAINT subscription_allocations_period_check;
UPDATE subscription_allocations a
   SET period = s.period_start
  FROM subscriptions s
 WHERE s.id = a.subscription_id
   AND a.period = (SELECT min(period) FROM subscription_allocations x
                    WHERE x.subscription_id = a.subscription_id);
CREATE INDEX subscription_periods_due_idx ON subscription_periods (starts_on);

-- A renewal order is the next period's bill: one per subscription and period, however often
-- (or however many at once) the renewal job runs.
ALTER TABLE orders
    ADD COLUMN renews_subscription_id  uuid REFERENCES subscriptions (id),
    ADD COLUMN renews_from             date,
    ADD CONSTRAINT orders_renewal_check CHECK ((renews_subscription_id IS NULL) = (renews_from IS NULL));
CREATE UNIQUE INDEX orders_one_renewal ON orders (renews_subscription_id, renews_from)
    WHERE renews_subscription_id IS NOT NULL;

-- An order reference drawn in SQL, for orders a job opens in bulk (same alphabet and shape as
-- the application's: Crockford base32, easy to copy to a bank transfer).
CREATE FUNCTION new_order_reference() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT 'RSS-' || substr(c, 1, 4) || '-' || substr(c, 5, 4)
      FROM (SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
                                     1 + floor(random() * 32)::int, 1), '') AS c
              FROM generate_series(1, 8)) r
$$;
