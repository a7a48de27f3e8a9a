-- Revocation a generic verifier can check: each certificate owns one bit of a W3C Bitstring
-- Status List (list = index / 131072, bit = index % 131072), published signed at
-- /v1/status-lists/{list}; a revoked certificate's bit is set. Indices are never reused.
CREATE SEQUENCE certificate_status_index AS integer MINVALUE 0 START 0;
ALTER TABLE certificates ADD COLUMN status_index integer UNIQUE;
UPDATE certificates c SET status_index = n.i
  FROM (SELECT id, nextval('certificate_status_index') AS i FROM certificates ORDER BY issued_at, id) n
 WHERE n.id = c.id;
ALTER TABLE certificates
    ALTER COLUMN status_index SET DEFAULT nextval('certificate_status_index'),
    ALTER COLUMN status_index SET NOT NULL;
ALTER SEQUENCE certificate_status_index OWNED BY certificates.status_index;

-- A qualification may expire: its credentials carry validUntil, its verify page says so.
ALTER TABLE exam_definitions ADD COLUMN valid_months integer CHECK (valid_months BETWEEN 1 AND 600);
ALTER TABLE qualifications ADD COLUMN valid_months integer CHECK (valid_months BETWEEN 1 AND 600);
ALTER TABLE certificates ADD COLUMN valid_until timestamptz CHECK (valid_until > issued_at);
