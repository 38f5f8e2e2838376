-- Who writes the next version of a shared record when instances race
-- (issue 28): a register version, a recommendation's next version. Each
-- writer first claims (what, version) here, waits a moment for any rival's
-- claim to be visible, and writes only if its claim is the earliest
-- (storage::claims); the others answer 409. Append-only: nothing collapses,
-- so every instance sees the same earliest claim.
CREATE TABLE IF NOT EXISTS claims
(
    what String,
    version UInt32,
    at_ms UInt64,
    claimant UUID
)
ENGINE = MergeTree
ORDER BY (what, version, at_ms, claimant);
