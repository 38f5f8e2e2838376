-- Cases (issue 13): a bad rating, a call past the phone standard or a watched
-- tag opens one. A case's id is the id of the event that opened it, so a
-- retried event cannot open a second one; the row travels through the spool
-- with that event and stands or falls with it. Deadlines are the ends of
-- working days by the production calendar (dashboards/calendar.toml).
CREATE TABLE IF NOT EXISTS cases
(
    event_id UUID,
    opened_at DateTime,
    journey String,
    stage String,
    touchpoint String,
    unit String,
    reason String,
    acknowledge_by DateTime,
    answer_by DateTime
)
ENGINE = ReplacingMergeTree(opened_at)
ORDER BY event_id;
