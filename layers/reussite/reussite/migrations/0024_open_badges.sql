-- Open Badges 3.0.3: each certificate names the achievement it earns by a URL-safe slug (its
-- id resolves at /v1/achievements/{slug}); the holder's choice to show their score is theirs.
ALTER TABLE certificates ADD COLUMN achievement_slug text;
CREATE INDEX certificates_achievement_slug ON certificates (achievement_slug);
