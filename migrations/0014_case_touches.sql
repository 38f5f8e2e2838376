-- One client's case across channels (issue 14). An event that carries the
-- ministry's case reference (an application number) adds a touch: the
-- reference's keyed hash (HMAC-SHA256 under case_refs.secret, 16 bytes) and
-- where and when the contact happened. The touch travels through the spool
-- with its event and stands or falls with it; a call and the rating at its
-- end are one touch (kind call).
CREATE TABLE IF NOT EXISTS case_touches
(
    event_id UUID,
    case_key FixedString(16),
    at DateTime,
    journey String,
    stage String,
    touchpoint String,
    kind Enum8('rating' = 1, 'timing' = 2, 'call' = 3, 'letter' = 4, 'email_rating' = 5)
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (case_key, event_id, kind);

-- Per case and stage: when the case entered the stage (its first touch
-- there), when it left (its first touch at a later stage; 0 while it has
-- none) and the end of the stage's legal deadline (0: none). Rebuilt whole
-- every case_refs.refresh_interval into a partition of its own; readers take
-- the latest build that case_stage_builds records as finished.
CREATE TABLE IF NOT EXISTS case_stage_times
(
    build UInt32,
    journey String,
    stage String,
    case_key FixedString(16),
    entered_at DateTime,
    left_at DateTime,
    deadline_at DateTime
)
ENGINE = MergeTree()
PARTITION BY build
ORDER BY (journey, stage, case_key);

CREATE TABLE IF NOT EXISTS case_stage_builds
(
    build UInt32,
    built_at DateTime,
    rows UInt64
)
ENGINE = MergeTree()
ORDER BY build;

-- References were stored in clear before: they are erased, not hashed (the
-- key is not ClickHouse's to know). case_ref stays, always empty.
ALTER TABLE feedback UPDATE case_ref = '' WHERE case_ref != '';
