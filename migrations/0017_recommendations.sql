-- The lab's recommendations as tracked items (issue 16). Every change is a
-- new row with the next version: the newest version of an id is the
-- recommendation now, the others its history. (id, version) is the key, so a
-- retried INSERT of one change is stored once.
CREATE TABLE IF NOT EXISTS recommendations
(
    id UUID,
    version UInt32,
    journey String,
    stage String,
    text_ru String,
    text_en String,
    status Enum8('proposed' = 1, 'accepted' = 2, 'in_progress' = 3, 'implemented' = 4, 'verified' = 5, 'rejected' = 6),
    -- The unit that carries it out; handlers of that unit may report progress.
    owner_unit String,
    -- YYYY-MM-DD or empty: when it is planned, when it was done.
    planned_on String,
    implemented_on String,
    measure Enum8('stage_score' = 1, 'time_spent' = 2, 'negative_share' = 3, 'positive_share' = 4, 'tag_share' = 5),
    -- For tag_share: the tag, and which way is better.
    tag String,
    aim Enum8('up' = 1, 'down' = -1),
    -- Days in each of the equal windows before and after implemented_on.
    window_days UInt16,
    note String,
    author String,
    changed_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY (id, version);
