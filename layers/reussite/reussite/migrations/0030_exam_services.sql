-- Exam services as the wine school sells them (seed 003, "Product & Pricing Integration"):
-- each service of each qualification is a product priced in money, bought through the normal
-- checkout; a school may also accept credits for it. Enquiries carry their reason and type,
-- a status and an outcome; the documented pass marks and durations.

-- The documented values: Level 1 passes at 55 %; each paper's duration.
UPDATE qualification_components SET pass_mark = 55 WHERE qualification_code = 'WINE-L1';
ALTER TABLE qualification_components
    ADD COLUMN duration_minutes integer NOT NULL DEFAULT 60 CHECK (duration_minutes BETWEEN 5 AND 600);
UPDATE qualification_components SET duration_minutes = 45 WHERE qualification_code = 'WINE-L1';
UPDATE qualification_components SET duration_minutes = 60 WHERE qualification_code = 'WINE-L2';
UPDATE qualification_components SET duration_minutes = 120
 WHERE qualification_code = 'WINE-L3' AND component = 'THEORY';
UPDATE qualification_components SET duration_minutes = 90
 WHERE qualification_code = 'WINE-L3' AND component = 'TASTING';

-- Exam services are products (no credits of their own: they confirm a seat or an enquiry).
ALTER TABLE products DROP CONSTRAINT products_kind_check;
ALTER TABLE products ADD CONSTRAINT products_kind_check
    CHECK (kind IN ('CREDIT_PACK', 'SUBSCRIPTION', 'ARIA_ADDON', 'EXAM_SERVICE'));
ALTER TABLE products DROP CONSTRAINT products_credits_check;
ALTER TABLE products ADD CONSTRAINT products_credits_check
    CHECK (credits > 0 OR (kind IN ('ARIA_ADDON', 'EXAM_SERVICE') AND credits = 0));

-- One row per service a qualification offers: its product (the money price), whether credits
-- are accepted instead (and how many), and for an enquiry how an upheld one paid in money is
-- refunded (credits granted, or a money refund staff make outside and record).
CREATE TABLE exam_services (
    qualification_code  text NOT NULL REFERENCES qualifications (code),
    service             text NOT NULL CHECK (service IN ('STANDALONE', 'MAKEUP', 'RESIT', 'REMOTE',
                                                         'ENQUIRY_THEORY', 'ENQUIRY_TASTING',
                                                         'ENQUIRY_BOTH')),
    product_code        text NOT NULL UNIQUE REFERENCES products (code),
    credits             integer CHECK (credits BETWEEN 1 AND 10000),  -- NULL: money only
    refund_upheld_as    text NOT NULL DEFAULT 'MONEY' CHECK (refund_upheld_as IN ('MONEY', 'CREDITS')),
    PRIMARY KEY (qualification_code, service),
    CHECK (refund_upheld_as = 'MONEY' OR credits IS NOT NULL)
);

-- The document's prices (makeup and resit 75 / 85 / 125, remote invigilation 50 / 60 / 90,
-- enquiry theory 50, tasting 50, both 90; a standalone sitting priced as a makeup), in euros.
CREATE TEMPORARY TABLE _prices (qualification_code text, service text, euros integer, label text);
INSERT INTO _prices VALUES
    ('WINE-L1', 'STANDALONE', 75, 'Examen'), ('WINE-L2', 'STANDALONE', 85, 'Examen'),
    ('WINE-L3', 'STANDALONE', 125, 'Examen'),
    ('WINE-L1', 'MAKEUP', 75, 'Examen de rattrapage'), ('WINE-L2', 'MAKEUP', 85, 'Examen de rattrapage'),
    ('WINE-L3', 'MAKEUP', 125, 'Examen de rattrapage'),
    ('WINE-L1', 'RESIT', 75, 'Repassage'), ('WINE-L2', 'RESIT', 85, 'Repassage'),
    ('WINE-L3', 'RESIT', 125, 'Repassage'),
    ('WINE-L1', 'REMOTE', 50, 'Examen surveillé à distance'),
    ('WINE-L2', 'REMOTE', 60, 'Examen surveillé à distance'),
    ('WINE-L3', 'REMOTE', 90, 'Examen surveillé à distance'),
    ('WINE-L1', 'ENQUIRY_THEORY', 50, 'Demande de révision (théorie)'),
    ('WINE-L2', 'ENQUIRY_THEORY', 50, 'Demande de révision (théorie)'),
    ('WINE-L3', 'ENQUIRY_THEORY', 50, 'Demande de révision (théorie)'),
    ('WINE-L3', 'ENQUIRY_TASTING', 50, 'Demande de révision (dégustation)'),
    ('WINE-L3', 'ENQUIRY_BOTH', 90, 'Demande de révision (théorie et dégustation)');
INSERT INTO products (code, kind, name, price_minor, currency, credits, plan_code)
SELECT 'EXAM_' || replace(p.qualification_code, '-', '_') || '_' || p.service, 'EXAM_SERVICE',
       p.label || ' - ' || q.name || ' ' || q.level, p.euros * 100, 'EUR', 0, NULL
  FROM _prices p JOIN qualifications q ON q.code = p.qualification_code;
INSERT INTO exam_services (qualification_code, service, product_code)
SELECT qualification_code, service,
       'EXAM_' || replace(qualification_code, '-', '_') || '_' || service FROM _prices;
DROP TABLE _prices;

-- The credit fees were the only prices; credits are now a per-service choice.
ALTER TABLE qualifications DROP COLUMN fee_standalone, DROP COLUMN fee_makeup,
    DROP COLUMN fee_resit, DROP COLUMN fee_remote, DROP COLUMN fee_enquiry_component,
    DROP COLUMN fee_enquiry_all;

-- An order can pay for a registration or an enquiry.
ALTER TABLE orders ADD COLUMN registration_id uuid REFERENCES exam_registrations (id),
                   ADD COLUMN enquiry_id uuid REFERENCES result_enquiries (id);
DO $$
DECLARE c text;
BEGIN
    SELECT conname INTO c FROM pg_constraint
     WHERE conrelid = 'orders'::regclass AND pg_get_constraintdef(oid) LIKE '%lot_id IS NOT NULL%';
    EXECUTE format('ALTER TABLE orders DROP CONSTRAINT %I', c);
END $$;
ALTER TABLE orders ADD CONSTRAINT orders_paid_for
    CHECK (status <> 'PAID' OR num_nonnulls(lot_id, subscription_id, registration_id, enquiry_id) > 0);

-- Registrations: a seat paid in money is held (PENDING_PAYMENT) until its order is paid or
-- can no longer be (CANCELLED, the seat given back); a cancelled one no longer holds the seat.
ALTER TABLE exam_registrations DROP CONSTRAINT exam_registrations_status_check;
ALTER TABLE exam_registrations ADD CONSTRAINT exam_registrations_status_check
    CHECK (status IN ('PENDING_PAYMENT', 'REGISTERED', 'ABSENT', 'SAT', 'CANCELLED'));
ALTER TABLE exam_registrations
    ADD COLUMN paid_with text NOT NULL DEFAULT 'CREDITS' CHECK (paid_with IN ('FREE', 'CREDITS', 'ORDER')),
    ADD COLUMN order_id uuid REFERENCES orders (id);
UPDATE exam_registrations SET paid_with = 'FREE' WHERE fee_credits = 0;
ALTER TABLE exam_registrations DROP CONSTRAINT exam_registrations_session_id_student_id_key;
CREATE UNIQUE INDEX exam_registrations_seat ON exam_registrations (session_id, student_id)
    WHERE status <> 'CANCELLED';

-- Enquiries as documented: a reason, a type, a status and, once decided, an outcome with the
-- score change per component.
ALTER TABLE result_enquiries DROP CONSTRAINT result_enquiries_status_check;
DROP INDEX result_enquiries_open;
ALTER TABLE result_enquiries
    ADD COLUMN reason text NOT NULL DEFAULT '',
    ADD COLUMN type text CHECK (type IN ('THEORY', 'TASTING', 'BOTH')),
    ADD COLUMN outcome text CHECK (outcome IN ('UPHELD', 'REJECTED', 'PARTIAL')),
    ADD COLUMN score_changes jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN result_changed boolean NOT NULL DEFAULT false,
    ADD COLUMN paid_with text NOT NULL DEFAULT 'CREDITS' CHECK (paid_with IN ('FREE', 'CREDITS', 'ORDER')),
    ADD COLUMN order_id uuid REFERENCES orders (id),
    ADD COLUMN refund_lot_id bigint REFERENCES credit_lots (id);
UPDATE result_enquiries SET outcome = status, status = 'COMPLETED'
 WHERE status IN ('UPHELD', 'PARTIAL');
UPDATE result_enquiries SET outcome = 'REJECTED' WHERE status = 'REJECTED';
UPDATE result_enquiries SET type = CASE
    WHEN cardinality(components) > 1 THEN 'BOTH'
    WHEN components = ARRAY['TASTING'] THEN 'TASTING' ELSE 'THEORY' END;
ALTER TABLE result_enquiries ALTER COLUMN type SET NOT NULL;
ALTER TABLE result_enquiries ADD CONSTRAINT result_enquiries_status_check
    CHECK (status IN ('PENDING_PAYMENT', 'SUBMITTED', 'UNDER_REVIEW', 'COMPLETED', 'REJECTED',
                      'CANCELLED'));
ALTER TABLE result_enquiries ADD CHECK ((outcome IS NOT NULL) = (status IN ('COMPLETED', 'REJECTED')));
CREATE UNIQUE INDEX result_enquiries_open ON result_enquiries (registration_id)
    WHERE status IN ('PENDING_PAYMENT', 'SUBMITTED', 'UNDER_REVIEW');

-- Money a family is owed back, made by staff outside the platform (a bank transfer) and
-- recorded here: an upheld enquiry paid in money, or a payment that arrived too late to be
-- used. One per order.
CREATE TABLE money_refunds (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id      uuid NOT NULL UNIQUE REFERENCES orders (id),
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    currency      text NOT NULL,
    reason        text NOT NULL,
    status        text NOT NULL DEFAULT 'DUE' CHECK (status IN ('DUE', 'MADE')),
    reference     text,  -- the transfer staff made
    made_by       uuid REFERENCES users (id),
    made_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'MADE') = (made_at IS NOT NULL AND reference IS NOT NULL))
);
CREATE INDEX money_refunds_due ON money_refunds (created_at) WHERE status = 'DUE';

-- The back office's queues read these.
CREATE INDEX exam_sessions_calendar ON exam_sessions (starts_at, id);
CREATE INDEX exam_registrations_status_idx ON exam_registrations (status, student_id);

-- A session lasts as long as the papers it sits (Level 3's final day: theory then tasting).
ALTER TABLE exam_sessions ADD COLUMN duration_minutes integer CHECK (duration_minutes > 0);
UPDATE exam_sessions s SET duration_minutes = (
    SELECT sum(c.duration_minutes) FROM qualification_components c
     WHERE c.qualification_code = s.qualification_code AND c.component = ANY (s.components));
ALTER TABLE exam_sessions ALTER COLUMN duration_minutes SET NOT NULL;
