-- Writes replayed by their Idempotency-Key compare the whole request with the first one: its
-- fingerprint is stored beside the key (reussite/idempotency.py).
ALTER TABLE tutoring_bookings ADD COLUMN request_hash text;
ALTER TABLE exam_registrations ADD COLUMN request_hash text;
ALTER TABLE result_enquiries ADD COLUMN request_hash text;
