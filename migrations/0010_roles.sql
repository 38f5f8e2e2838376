-- Roles (issue 13): an analyst reads the dashboards, a handler works the
-- cases of its units, an admin keeps accounts, units and rules. Accounts and
-- tokens made before roles existed stay analysts.
ALTER TABLE analysts ADD COLUMN role String DEFAULT 'analyst', ADD COLUMN units Array(String);

ALTER TABLE api_tokens ADD COLUMN role String DEFAULT 'analyst', ADD COLUMN units Array(String);
