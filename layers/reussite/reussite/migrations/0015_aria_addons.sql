-- ARIA subjects beyond a plan's count: an add-on product, one subject for one month from its
-- payment, bought through the normal checkout (Konnect or a Wise transfer, with its receipt).
ALTER TABLE products DROP CONSTRAINT products_kind_check;
ALTER TABLE products ADD CONSTRAINT products_kind_check
    CHECK (kind IN ('CREDIT_PACK', 'SUBSCRIPTION', 'ARIA_ADDON'));
ALTER TABLE products DROP CONSTRAINT products_credits_check;
ALTER TABLE products ADD CONSTRAINT products_credits_check
    CHECK (credits > 0 OR (kind = 'ARIA_ADDON' AND credits = 0));
INSERT INTO products (code, kind, name, price_minor, currency, credits, plan_code) VALUES
    ('ARIA_MATIERE', 'ARIA_ADDON', 'ARIA : une matière de plus (un mois)', 29000, 'TND', 0, NULL);

CREATE TABLE aria_addons (
    order_id         uuid PRIMARY KEY REFERENCES orders (id),
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    subject          text NOT NULL REFERENCES aria_subjects (code),
    paid_until       date NOT NULL,  -- exclusive: the first day not paid for
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX aria_addons_subscription ON aria_addons (subscription_id, paid_until);
