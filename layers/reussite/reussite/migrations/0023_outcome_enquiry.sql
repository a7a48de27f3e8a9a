-- A regraded outcome names the enquiry that produced it (enquiry -> outcome -> certificate, and
-- back).
ALTER TABLE qualification_outcomes ADD COLUMN enquiry_id uuid REFERENCES result_enquiries (id);
