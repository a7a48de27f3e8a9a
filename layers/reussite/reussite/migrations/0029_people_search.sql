-- Staff's people search without reading every user: the words of a name (and of a profile
-- without a login) in full-text indexes ('simple': no stemming, no stop words), searched by
-- word prefix; an email by its beginning, case ignored; newest first by walking creation time
-- when a search matches many. ILIKE '%…%' read all of them (a million users and as many
-- children's profiles at a million students).
CREATE INDEX users_name_words ON users
    USING gin (to_tsvector('simple', coalesce(profile_name, name, '')));
CREATE INDEX users_email_prefix ON users (lower(email) text_pattern_ops);
CREATE INDEX students_unlinked_name_words ON students
    USING gin (to_tsvector('simple', display_name)) WHERE user_id IS NULL;
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);
CREATE INDEX students_unlinked_created_idx ON students (created_at DESC, id DESC)
    WHERE user_id IS NULL;
-- The expression indexes' statistics, so the planner knows how rare a word or an email is.
ANALYZE users;
ANALYZE students;
