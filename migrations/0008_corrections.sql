-- Corrections of the feedback_daily rollup: when a letter's rating is replaced
-- by a later click, the previous rating is taken back out of the rollup. They
-- were written straight into feedback_daily; a row here carries the event id
-- and received_at of the replacing rating, so that a replay from the spool can
-- tell whether it is already stored (docs/schema.md, "Exactness").
CREATE TABLE IF NOT EXISTS feedback_corrections
(
    event_id UUID,
    received_at DateTime,
    day Date,
    journey String,
    stage String,
    touchpoint String,
    channel String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4),
    n Int64,
    sum Float64,
    sumsq Float64,
    positive Int64,
    negative Int64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (journey, day, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_corrections_mv TO feedback_daily AS
SELECT day, journey, stage, touchpoint, channel, segment, n, sum, sumsq, positive, negative
FROM feedback_corrections;
