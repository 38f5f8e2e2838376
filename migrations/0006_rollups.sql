-- Daily rollups for the dashboards: a journey view reads a few thousand rows
-- instead of millions. Why and what they cost in exactness: docs/schema.md.
-- Migrations run before the service accepts events, so the backfill below and
-- the views' creation see no concurrent writes.

CREATE TABLE IF NOT EXISTS feedback_daily
(
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
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (journey, day, stage, touchpoint, channel, segment);

INSERT INTO feedback_daily
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment,
       toInt64(count()) AS n,
       sum(toFloat64(multiIf(scale = 'csat', (score - 1) * 25, scale = 'nps', score * 10, scale = 'ces', (score - 1) * 100 / 6, score * 100))) AS sum,
       sum(pow(toFloat64(multiIf(scale = 'csat', (score - 1) * 25, scale = 'nps', score * 10, scale = 'ces', (score - 1) * 100 / 6, score * 100)), 2)) AS sumsq,
       toInt64(countIf(emotion = 'positive')) AS positive,
       toInt64(countIf(emotion = 'negative')) AS negative
FROM feedback FINAL
WHERE (SELECT count() FROM feedback_daily) = 0
GROUP BY day, journey, stage, touchpoint, channel, segment;

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_daily_mv TO feedback_daily AS
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment,
       toInt64(count()) AS n,
       sum(toFloat64(multiIf(scale = 'csat', (score - 1) * 25, scale = 'nps', score * 10, scale = 'ces', (score - 1) * 100 / 6, score * 100))) AS sum,
       sum(pow(toFloat64(multiIf(scale = 'csat', (score - 1) * 25, scale = 'nps', score * 10, scale = 'ces', (score - 1) * 100 / 6, score * 100)), 2)) AS sumsq,
       toInt64(countIf(emotion = 'positive')) AS positive,
       toInt64(countIf(emotion = 'negative')) AS negative
FROM feedback
GROUP BY day, journey, stage, touchpoint, channel, segment;

-- Time spent on a stage's tasks: measured or self-reported task timings, and
-- the "how long did it take?" answers of ratings.
CREATE TABLE IF NOT EXISTS stage_time_daily
(
    day Date,
    journey String,
    stage String,
    touchpoint String,
    channel String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4),
    n AggregateFunction(count),
    q AggregateFunction(quantiles(0.5, 0.9), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (journey, day, stage, touchpoint, channel, segment);

INSERT INTO stage_time_daily
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment,
       countState() AS n, quantilesState(0.5, 0.9)(toFloat64(duration_ms)) AS q
FROM timings FINAL
WHERE measure = 'task' AND (SELECT count() FROM stage_time_daily) = 0
GROUP BY day, journey, stage, touchpoint, channel, segment;

INSERT INTO stage_time_daily
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment,
       countState() AS n, quantilesState(0.5, 0.9)(toFloat64(assumeNotNull(reported_duration_ms))) AS q
FROM feedback FINAL
WHERE isNotNull(reported_duration_ms) AND (SELECT count() FROM stage_time_daily) = 0
GROUP BY day, journey, stage, touchpoint, channel, segment;

CREATE MATERIALIZED VIEW IF NOT EXISTS stage_time_from_timings_mv TO stage_time_daily AS
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment,
       countState() AS n, quantilesState(0.5, 0.9)(toFloat64(duration_ms)) AS q
FROM timings
WHERE measure = 'task'
GROUP BY day, journey, stage, touchpoint, channel, segment;

CREATE MATERIALIZED VIEW IF NOT EXISTS stage_time_from_feedback_mv TO stage_time_daily AS
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment,
       countState() AS n, quantilesState(0.5, 0.9)(toFloat64(assumeNotNull(reported_duration_ms))) AS q
FROM feedback
WHERE isNotNull(reported_duration_ms)
GROUP BY day, journey, stage, touchpoint, channel, segment;

CREATE TABLE IF NOT EXISTS calls_daily
(
    day Date,
    journey String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4),
    n Int64,
    over_two_transfers Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (journey, day, segment);

INSERT INTO calls_daily
SELECT toDate(started_at, 'UTC') AS day, journey, segment, toInt64(count()) AS n, toInt64(countIf(transfers > 2)) AS over_two_transfers
FROM calls FINAL
WHERE (SELECT count() FROM calls_daily) = 0
GROUP BY day, journey, segment;

CREATE MATERIALIZED VIEW IF NOT EXISTS calls_daily_mv TO calls_daily AS
SELECT toDate(started_at, 'UTC') AS day, journey, segment, toInt64(count()) AS n, toInt64(countIf(transfers > 2)) AS over_two_transfers
FROM calls
GROUP BY day, journey, segment;
