-- Signed outgoing events to a school's own systems: endpoints staff register (the event types
-- wanted; the signing secret is derived from the stack's key and the endpoint's salt, never
-- stored), events written in the same transaction as the change they tell (an outbox), one
-- delivery per (event, endpoint), its attempts and outcome kept as the delivery log.

CREATE TABLE webhook_endpoints (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url         text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 500),
    events      text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 20),
    salt        text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_by  uuid NOT NULL REFERENCES users (id),
    idempotency_key text NOT NULL,
    request_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (created_by, idempotency_key)
);

CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type        text NOT NULL CHECK (type IN ('payment.succeeded', 'subscription.renewed',
                  'subscription.lapsed', 'attempt.graded', 'certificate.issued',
                  'certificate.revoked', 'bilan.completed')),
    subject     text NOT NULL,  -- what it is about, e.g. "order:<id>": one event per change
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (type, subject)
);

CREATE TABLE webhook_deliveries (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id      uuid NOT NULL REFERENCES webhook_events (id),
    endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints (id),
    status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED')),
    attempts      integer NOT NULL DEFAULT 0,
    last_status   integer,
    last_error    text,
    enqueued_at   timestamptz,
    delivered_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (created_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
