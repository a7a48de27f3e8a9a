-- Emails owed in the outbox name their template, the recipients' language and the values to
-- fill in; they are rendered (HTML and text) when sent. One email may be owed in several
-- languages (a family whose parents read different ones): a row per (key, language).
ALTER TABLE outbox_emails DROP COLUMN subject, DROP COLUMN body;
ALTER TABLE outbox_emails
    ADD COLUMN template text NOT NULL CHECK (template ~ '^[a-z_]{1,40}$'),
    ADD COLUMN language text NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'ar', 'en')),
    ADD COLUMN context  jsonb NOT NULL DEFAULT '{}';
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_key_key;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_once UNIQUE (key, language);
-- A flush claims one email for a few minutes (committed), sends it outside any transaction,
-- then marks it: SES is never called while a transaction holds a lock.
ALTER TABLE outbox_emails ADD COLUMN claimed_until timestamptz;
