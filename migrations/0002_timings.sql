-- Time spent at a touchpoint and stage, measured (time on page, call handling)
-- or self-reported ("how long did it take?"). Why each key and type: docs/schema.md.
CREATE TABLE IF NOT EXISTS timings
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
    measure Enum8('dwell' = 1, 'task' = 2, 'wait' = 3, 'handling' = 4),
    source Enum8('measured' = 1, 'self_reported' = 2),
    duration_ms UInt64,
    session_id String,
    page_path String
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (journey, stage, touchpoint, occurred_at, event_id);
