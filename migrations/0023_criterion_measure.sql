-- A recommendation may aim at one question of its stage's set (issue 18): a
-- "Ваш контроль" criterion or a custom question, its mean answer 1–5 read
-- from answers_daily before and after. On a cluster both ALTERs reach every
-- server by replication (storage::cluster::on_cluster).
ALTER TABLE recommendations MODIFY COLUMN measure Enum8('stage_score' = 1, 'time_spent' = 2, 'negative_share' = 3, 'positive_share' = 4, 'tag_share' = 5, 'criterion' = 6);
ALTER TABLE recommendations ADD COLUMN question String;
