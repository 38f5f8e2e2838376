-- Roles (issue 13): an analyst reads the dashboards, a handler works the
-- cases of its units, an admin keeps accounts, units and rules. Accounts and
-- tokens made before roles existed stay analysts. One column per statement:
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, and the migration runner
-- takes a column that already exists (an interrupted run) as added.
ALTER TABLE analysts ADD COLUMN role String DEFAULT 'analyst';

ALTER TABLE analysts ADD COLUMN units Array(String);

ALTER TABLE api_tokens ADD COLUMN role String DEFAULT 'analyst';

ALTER TABLE api_tokens ADD COLUMN units Array(String);
