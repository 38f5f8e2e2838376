-- A client's own history shows only what came with proof from the ministry
-- (issue 28): a call or a letter its staff logged, a rating clicked in its
-- letter (those three by the touch's kind), and an event from an anonymous
-- channel that carried a reference signed by touchpoint (a history link's
-- token the ministry's page passed to the widget) or came through a
-- letter's set link: those get a row here. A plain application number from
-- an anonymous channel still links the event for the lab's timeline, but
-- anyone may know one, so it shows nothing on the client's page.
CREATE TABLE IF NOT EXISTS case_proofs
(
    event_id UUID,
    case_key FixedString(16),
    at DateTime
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (case_key, event_id);
