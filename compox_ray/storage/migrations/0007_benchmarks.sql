-- A benchmark is a run on the runners like an execution (same queue, leases, stop and events):
-- it lives in the executions table, told apart by kind; data holds what the package's
-- benchmark() measured (JSON), written with its COMPLETED status.
ALTER TABLE executions ADD COLUMN kind TEXT NOT NULL DEFAULT 'execution';
ALTER TABLE executions ADD COLUMN data TEXT;
CREATE INDEX executions_kind ON executions (kind, queue_seq);
