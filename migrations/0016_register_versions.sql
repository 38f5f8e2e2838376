-- The register and the journeys as versioned documents (issue 15). Every
-- version is whole: the register and every journey as JSON
-- (register::documents::Documents). Version 1 is the import of the files in
-- dashboards/; each later one is one approved change applied to the one
-- before. A row here is what makes a change approved: one INSERT, so an
-- approval is recorded whole or not at all.
CREATE TABLE IF NOT EXISTS register_versions
(
    version UInt32,
    change_id UUID,
    approved_at DateTime,
    approved_by String,
    -- The end of the 10 working days the new version has to be on the
    -- ministry's site (order 5.4).
    publish_by DateTime,
    documents String
)
ENGINE = ReplacingMergeTree()
ORDER BY version;

-- Changes drafted by editors and their outcome other than approval
-- (rejected, withdrawn); the newest state of a change wins.
CREATE TABLE IF NOT EXISTS register_changes
(
    change_id UUID,
    updated_at DateTime,
    state Enum8('draft' = 1, 'rejected' = 2, 'withdrawn' = 3),
    -- register::change::Change as JSON.
    change String,
    -- The author's words: why the register must change (5.3).
    reason String,
    author String,
    unit String,
    created_at DateTime,
    decided_by String,
    decision String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY change_id;

-- When a version was seen on the ministry's site (5.4): set by an approver.
CREATE TABLE IF NOT EXISTS register_publications
(
    version UInt32,
    published_at DateTime,
    url String,
    recorded_by String
)
ENGINE = ReplacingMergeTree()
ORDER BY version;
