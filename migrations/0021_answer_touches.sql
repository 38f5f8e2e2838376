-- Question-set responses carry the client's case reference too (issue 18):
-- a touch kind of their own, so the case's timeline and the client's own
-- history list them with their answers.
ALTER TABLE case_touches MODIFY COLUMN kind Enum8('rating' = 1, 'timing' = 2, 'call' = 3, 'letter' = 4, 'email_rating' = 5, 'answers' = 6);
