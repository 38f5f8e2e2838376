-- When clients were asked (issue 18): the widget shown and opened, a letter's
-- rating links sent. Answers divided by these are the response rates the
-- dashboards and reports show, so that a low rate and its bias are visible.
-- Calls need no row here: every logged call was an offer (table calls).
CREATE TABLE IF NOT EXISTS offers
(
    event_id UUID,
    occurred_at DateTime,
    received_at DateTime,
    site String,
    journey String,
    stage String,
    touchpoint String,
    channel String,
    kind Enum8('shown' = 1, 'opened' = 2, 'sent' = 3),
    question_set String
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (journey, stage, touchpoint, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS offers_daily
(
    day Date,
    journey String,
    stage String,
    touchpoint String,
    channel String,
    kind Enum8('shown' = 1, 'opened' = 2, 'sent' = 3),
    question_set String,
    n Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (journey, day, stage, touchpoint, channel, kind, question_set);

CREATE MATERIALIZED VIEW IF NOT EXISTS offers_daily_mv TO offers_daily AS
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, kind, question_set, toInt64(count()) AS n
FROM offers
GROUP BY day, journey, stage, touchpoint, channel, kind, question_set;
