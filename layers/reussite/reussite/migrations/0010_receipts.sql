-- Every paid order has a receipt, numbered per year with no gap and no duplicate: the number is
-- taken from the year's counter in the transaction that records the payment (its row lock
-- orders concurrent payments; a payment that rolls back gives its number back).
CREATE TABLE receipt_counters (
    year  integer PRIMARY KEY,
    last  integer NOT NULL CHECK (last > 0)
);

CREATE TABLE receipts (
    order_id   uuid PRIMARY KEY REFERENCES orders (id),
    year       integer NOT NULL,
    number     integer NOT NULL CHECK (number > 0),
    issued_at  timestamptz NOT NULL DEFAULT now(),
    pdf_key    text,  -- the PDF in the private bucket, rendered on first request
    UNIQUE (year, number)
);
