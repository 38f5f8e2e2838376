-- The phone log: one row per call, with the order's phone standard (3.2.4:
-- at most two transfers) derived at insert. Why each key and type: docs/schema.md.
CREATE TABLE IF NOT EXISTS calls
(
    event_id UUID,
    started_at DateTime,
    received_at DateTime,
    journey String,
    stage String,
    touchpoint String,
    process String,
    operator String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4),
    wait_seconds UInt32,
    talk_seconds UInt32,
    transfers UInt8,
    resolved UInt8,
    breaks_transfer_standard UInt8 MATERIALIZED transfers > 2,
    rating_scale Enum8('none' = 0, 'csat' = 1, 'nps' = 2, 'ces' = 3, 'thumbs' = 4),
    rating_score Nullable(UInt8)
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(started_at)
ORDER BY (journey, stage, touchpoint, started_at, event_id);
