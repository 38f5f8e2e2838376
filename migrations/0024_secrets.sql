-- Keys the service makes itself when its config sets none (issue 28): the
-- links' key (`email.secret`) and the session cookies' key
-- (`dashboards.session_secret`). Made once for the database and kept, so a
-- restart or another instance keeps yesterday's links and logins working.
-- The earliest row of a name is the one in force (storage::secrets); only
-- the service's own user reads this table.
CREATE TABLE IF NOT EXISTS secrets
(
    name String,
    value String,
    created_at DateTime
)
ENGINE = MergeTree
ORDER BY (name, created_at, value);
