-- Lab analysts who may read the dashboards. The password is an argon2 PHC
-- string; a change or a disabling is a new row with a later updated_at.
CREATE TABLE IF NOT EXISTS analysts
(
    name String,
    password_hash String,
    disabled UInt8,
    updated_at DateTime
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;

-- API tokens for scripts. Only the SHA-256 of a token is kept: tokens are 256
-- random bits, so a fast hash is enough and a stolen table reveals nothing.
CREATE TABLE IF NOT EXISTS api_tokens
(
    token_hash String,
    name String,
    created_at DateTime,
    revoked UInt8,
    updated_at DateTime
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY token_hash;
