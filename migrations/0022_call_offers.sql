-- Every call logged at a stage is an offer to rate (issue 18): the phone log
-- writes it to `offers` like the widget's showings, so that response rates
-- read only rollups (counting the calls themselves took 0.28 s a million calls).
ALTER TABLE offers MODIFY COLUMN kind Enum8('shown' = 1, 'opened' = 2, 'sent' = 3, 'call' = 4);
ALTER TABLE offers_daily MODIFY COLUMN kind Enum8('shown' = 1, 'opened' = 2, 'sent' = 3, 'call' = 4);
