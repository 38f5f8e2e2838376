-- The stage-duration view read 5 million rows of per-case stage times in
-- about 0.35 s, most of it comparing journey and stage names row by row and
-- working out each case's time at a stage. The times are derived data,
-- rebuilt whole every case_refs.refresh_interval, so both tables are
-- replaced, not altered: journey and stage become numbers, the time spent is
-- stored, and rows are ordered by it.
DROP TABLE IF EXISTS case_stage_times;
DROP TABLE IF EXISTS case_stage_builds;

-- Per case and stage: when the case entered the stage (its first touch
-- there), when it left (its first touch at a later stage since; 0 while it
-- has none), the seconds in between (0 while it has none) and the end of the
-- stage's legal deadline (0: none). `journey` and `stage` are numbers that
-- the build's rows in case_stage_builds name.
CREATE TABLE IF NOT EXISTS case_stage_times
(
    build UInt32,
    journey UInt16,
    stage UInt8,
    case_key FixedString(16),
    entered_at DateTime,
    left_at DateTime,
    spent UInt32,
    deadline_at DateTime
)
ENGINE = MergeTree()
PARTITION BY build
ORDER BY (journey, stage, spent);

-- One row per build and journey, written once the journey's times are in:
-- its number in that build and its stage ids, stage number 1 first. Readers
-- take their journey's latest row.
CREATE TABLE IF NOT EXISTS case_stage_builds
(
    build UInt32,
    built_at DateTime,
    journey String,
    number UInt16,
    stages Array(String),
    rows UInt64
)
ENGINE = MergeTree()
PARTITION BY build
ORDER BY (journey, build);
