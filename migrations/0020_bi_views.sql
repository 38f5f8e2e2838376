-- Stable views for BI tools (issue 18; docs/bi.md): a ministry's Yandex
-- DataLens, Grafana or Superset reads these, not the tables behind them, so
-- that the tables may change while the views keep their names and columns.
-- Each view reads a daily rollup, merged per key: every count and sum adds up
-- across rows (sum them in the BI tool); the daily medians do not.
CREATE VIEW IF NOT EXISTS bi_ratings_daily AS
SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment,
       sum(n) AS answers, sum(sum) AS score_sum, sum(sumsq) AS score_sumsq,
       sum(positive) AS positive, sum(negative) AS negative
FROM feedback_daily
GROUP BY day, journey, stage, touchpoint, channel, segment;

CREATE VIEW IF NOT EXISTS bi_criteria_daily AS
SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment, question_set, question,
       sum(responses) AS responses, sum(n) AS answers, sum(sum) AS score_sum, sum(sumsq) AS score_sumsq,
       sum(n1) AS n1, sum(n2) AS n2, sum(n3) AS n3, sum(n4) AS n4, sum(n5) AS n5
FROM answers_daily
GROUP BY day, journey, stage, touchpoint, channel, segment, question_set, question;

CREATE VIEW IF NOT EXISTS bi_offers_daily AS
SELECT day, journey, stage, touchpoint, channel, toString(kind) AS kind, question_set, sum(n) AS offers
FROM offers_daily
GROUP BY day, journey, stage, touchpoint, channel, kind, question_set;

CREATE VIEW IF NOT EXISTS bi_calls_daily AS
SELECT day, journey, toString(segment) AS segment, sum(n) AS calls, sum(over_two_transfers) AS over_two_transfers
FROM calls_daily
GROUP BY day, journey, segment;

CREATE VIEW IF NOT EXISTS bi_stage_time_daily AS
SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment,
       countMerge(n) AS timed, quantilesMerge(0.5, 0.9)(q)[1] AS median_ms, quantilesMerge(0.5, 0.9)(q)[2] AS p90_ms
FROM stage_time_daily
GROUP BY day, journey, stage, touchpoint, channel, segment;
