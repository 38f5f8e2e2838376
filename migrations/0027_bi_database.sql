-- The BI views moved to a database of their own, `<database>_bi` (issue 28;
-- storage::bi, docs/bi.md), which the BI user may read while this one it may
-- not: ClickHouse 18.16 grants whole databases. DROP TABLE drops a view too.
DROP TABLE IF EXISTS bi_ratings_daily;
DROP TABLE IF EXISTS bi_criteria_daily;
DROP TABLE IF EXISTS bi_offers_daily;
DROP TABLE IF EXISTS bi_calls_daily;
DROP TABLE IF EXISTS bi_stage_time_daily;
