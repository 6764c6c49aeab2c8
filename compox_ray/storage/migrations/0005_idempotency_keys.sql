-- A client that retries a submit sends the same Idempotency-Key: the run it created first answers.
-- request_fingerprint (sha256 of the request) tells a retry from another request reusing the key.
ALTER TABLE executions ADD COLUMN idempotency_key TEXT;
ALTER TABLE executions ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX executions_idempotency_key ON executions (idempotency_key) WHERE idempotency_key IS NOT NULL;

ALTER TABLE trainings ADD COLUMN idempotency_key TEXT;
ALTER TABLE trainings ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX trainings_idempotency_key ON trainings (idempotency_key) WHERE idempotency_key IS NOT NULL;
