-- The client's way back (issue 13, order 2.6.8). A client who follows a case
-- may rate the answer: one rating per case, a second one replaces the first
-- (ReplacingMergeTree(rated_at) ORDER BY case_id), with the case's place so
-- the dashboards show satisfaction with the handling per stage.
CREATE TABLE IF NOT EXISTS handling_ratings
(
    case_id UUID,
    rated_at DateTime,
    journey String,
    stage String,
    touchpoint String,
    unit String,
    -- csat, 1 to 5.
    score UInt8
)
ENGINE = ReplacingMergeTree(rated_at)
ORDER BY case_id;

-- An address a client gave, with consent, to be told when the answer is
-- ready. Apart from every analytics table: no query of the dashboards, the
-- exports or the API reads it, and it is deleted 30 days after its case closes.
CREATE TABLE IF NOT EXISTS follow_contacts
(
    case_id UUID,
    email String,
    consented_at DateTime
)
ENGINE = ReplacingMergeTree(consented_at)
ORDER BY case_id;
