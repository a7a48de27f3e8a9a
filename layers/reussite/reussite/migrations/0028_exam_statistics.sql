-- Quiz statistics kept as running sums, so reading them costs the exam's questions, not its
-- attempts (they read every graded attempt, and loaded it, before: 2M attempts at a million
-- students). Each graded attempt is folded in exactly once: `counted_at` marks it, in the
-- transaction that adds it to the sums; the attempt sweeper folds what was graded since, a
-- read folds what is still pending for its exam first.
ALTER TABLE exam_attempts ADD COLUMN counted_at timestamptz;
CREATE INDEX exam_attempts_uncounted ON exam_attempts (exam_code, exam_version, id)
    WHERE status = 'GRADED' AND counted_at IS NULL;

CREATE TABLE exam_version_stats (
    exam_code    text NOT NULL,
    exam_version integer NOT NULL,
    attempts     bigint NOT NULL DEFAULT 0,
    passed       bigint NOT NULL DEFAULT 0,
    score_sum    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (exam_code, exam_version),
    FOREIGN KEY (exam_code, exam_version) REFERENCES exam_versions (exam_code, version)
);

-- Per question of a version: how often asked, and the sums Pearson's correlation needs between
-- its credit x and the rest of the attempt's score r.
CREATE TABLE exam_question_stats (
    exam_code    text NOT NULL,
    exam_version integer NOT NULL,
    question     text NOT NULL,  -- pool/name@version, or gen:<prompt digest>
    type         text NOT NULL,
    prompt       text NOT NULL,
    asked        bigint NOT NULL DEFAULT 0,
    sum_x        double precision NOT NULL DEFAULT 0,
    sum_xx       double precision NOT NULL DEFAULT 0,
    sum_r        double precision NOT NULL DEFAULT 0,
    sum_rr       double precision NOT NULL DEFAULT 0,
    sum_xr       double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (exam_code, exam_version, question),
    FOREIGN KEY (exam_code, exam_version) REFERENCES exam_version_stats (exam_code, exam_version)
);
