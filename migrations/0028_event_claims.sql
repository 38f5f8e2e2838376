-- Which instance's copy of an event is stored (issue 28, item 22): a
-- client's retry that reaches another instance is a new event there, and the
-- rollups' views would count both. Before inserting a round, each shipper
-- claims the round's events here, waits for rivals' claims to be visible,
-- and inserts only those whose earliest claim is its own
-- (storage::event_claims). Append-only, kept for the longest dedupe window;
-- old days are dropped by partition (18.16 has no TTL). A small granule: a
-- round looks its ids up by the primary key.
CREATE TABLE IF NOT EXISTS event_claims
(
    kind UInt8,
    id UUID,
    fingerprint UInt64,
    at_ms UInt64,
    claimant UUID
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(at_ms, 1000)))
ORDER BY (id, kind, fingerprint, at_ms)
SETTINGS index_granularity = 256;
