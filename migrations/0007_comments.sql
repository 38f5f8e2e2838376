-- The rated comments the dashboards list (negative and positive, newest first),
-- kept apart from the ratings so that listing them reads only rows that have one.
CREATE TABLE IF NOT EXISTS feedback_comments
(
    event_id UUID,
    occurred_at DateTime,
    journey String,
    stage String,
    touchpoint String,
    channel String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4),
    emotion Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    comment String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (journey, occurred_at, stage, emotion, event_id);

INSERT INTO feedback_comments
SELECT event_id, occurred_at, journey, stage, touchpoint, channel, segment, emotion, comment
FROM feedback FINAL
WHERE comment != '' AND emotion != 'neutral' AND (SELECT count() FROM feedback_comments) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_comments_mv TO feedback_comments AS
SELECT event_id, occurred_at, journey, stage, touchpoint, channel, segment, emotion, comment
FROM feedback
WHERE comment != '' AND emotion != 'neutral';
