-- Notifications (issue 13): every attempt to deliver a case event or a digest
-- to a target (a webhook, a unit's mailbox), append-only. What is still owed
-- is read from here and from the cases and their logs, so an outage of the
-- receiver, the mail server or ClickHouse, or a restart, loses nothing: an
-- event without a `delivered` attempt is sent again. A record written twice
-- collapses (ORDER BY target, event_id, attempt).
CREATE TABLE IF NOT EXISTS deliveries
(
    target String,
    event_id String,
    attempt UInt32,
    at DateTime,
    -- `delivered`, `failed` (tried again at next_at), `dead` (given up) or
    -- `skipped` (a digest with nothing overdue).
    outcome String,
    -- Unix milliseconds.
    next_at UInt64,
    error String
)
ENGINE = ReplacingMergeTree(attempt)
ORDER BY (target, event_id, attempt);
