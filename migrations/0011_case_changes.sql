-- The log of a case (issue 13): every change a handler makes, who and when,
-- append-only. A change's id is chosen by its caller, so a retried change
-- collapses into one row (ORDER BY case_id, change_id) instead of counting twice.
CREATE TABLE IF NOT EXISTS case_changes
(
    case_id UUID,
    change_id UUID,
    seq UInt32,
    at DateTime,
    by String,
    action String,
    text String,
    resolution String
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (case_id, change_id);
