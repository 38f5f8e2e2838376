-- Ratings clients leave right after a contact: widget, email link, end of a call.
-- Why each key and type: docs/schema.md.
CREATE TABLE IF NOT EXISTS feedback
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
    scale Enum8('csat' = 1, 'nps' = 2, 'ces' = 3, 'thumbs' = 4),
    score UInt8,
    emotion Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    comment String,
    tags Array(String),
    reported_duration_ms Nullable(UInt64),
    locale String,
    session_id String,
    page_path String,
    case_ref String
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (journey, stage, touchpoint, occurred_at, event_id);
