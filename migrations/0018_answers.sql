-- Question sets (issue 18): one row per response, the questions answered and
-- their scores side by side; a question skipped is absent, never padded.
-- The rollup holds each question as its own measure per stage and touchpoint:
-- counts of each answer 1–5 (the distribution reports give), sums for means
-- and intervals, and `responses` (one per response, on its first answer) for
-- response rates. Why the keys: docs/schema.md. `arrayJoin` rather than an
-- ARRAY JOIN clause: on a cluster the view names `db.answers`, and 18.16 then
-- cannot find the ARRAY JOIN's columns.
CREATE TABLE IF NOT EXISTS answers
(
    event_id UUID,
    occurred_at DateTime,
    received_at DateTime,
    site String,
    journey String,
    stage String,
    touchpoint String,
    channel String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4),
    question_set String,
    questions Array(String),
    scores Array(UInt8),
    comment String,
    locale String,
    session_id String,
    page_path String
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (journey, stage, touchpoint, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS answers_daily
(
    day Date,
    journey String,
    stage String,
    touchpoint String,
    channel String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4),
    question_set String,
    question String,
    responses Int64,
    n Int64,
    sum Int64,
    sumsq Int64,
    n1 Int64,
    n2 Int64,
    n3 Int64,
    n4 Int64,
    n5 Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (journey, day, stage, touchpoint, channel, segment, question_set, question);

CREATE MATERIALIZED VIEW IF NOT EXISTS answers_daily_mv TO answers_daily AS
SELECT toDate(occurred_at, 'UTC') AS day, journey, stage, touchpoint, channel, segment, question_set,
       questions[arrayJoin(arrayEnumerate(questions)) AS position] AS question,
       toInt64(countIf(position = 1)) AS responses,
       toInt64(count()) AS n,
       toInt64(sum(scores[position])) AS sum,
       toInt64(sum(scores[position] * scores[position])) AS sumsq,
       toInt64(countIf(scores[position] = 1)) AS n1,
       toInt64(countIf(scores[position] = 2)) AS n2,
       toInt64(countIf(scores[position] = 3)) AS n3,
       toInt64(countIf(scores[position] = 4)) AS n4,
       toInt64(countIf(scores[position] = 5)) AS n5
FROM answers
GROUP BY day, journey, stage, touchpoint, channel, segment, question_set, question;
