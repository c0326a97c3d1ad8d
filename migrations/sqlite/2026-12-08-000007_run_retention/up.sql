-- Finished runs older than the retention period are purged in batches, oldest first: the
-- purge finds them by when they finished.
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
