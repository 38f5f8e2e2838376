-- Written-channel timeline (email, letters, personal-account messages): when a
-- letter was received, first acknowledged and answered (3.2.5 of the order).
-- Each update of a letter is a new row; the latest wins. Why: docs/schema.md.
CREATE TABLE IF NOT EXISTS correspondence
(
    event_id UUID,
    letter_id String,
    received_at DateTime,
    acknowledged_at Nullable(DateTime),
    answered_at Nullable(DateTime),
    updated_at DateTime,
    journey String,
    stage String,
    touchpoint String,
    process String,
    segment Enum8('unknown' = 0, 'individual' = 1, 'legal_entity' = 2, 'sole_proprietor' = 3, 'internal' = 4)
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(received_at)
ORDER BY (journey, stage, touchpoint, letter_id);
