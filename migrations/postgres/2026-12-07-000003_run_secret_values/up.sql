-- The values of a run's password parameters, sealed like credentials (AES-256-GCM under the
-- master key, bound to the run's id): served logs mask them wherever the build printed them.
-- NULL when the run had none (and for runs triggered before this column existed).
ALTER TABLE runs ADD COLUMN secret_values BYTEA;
ALTER TABLE runs ADD COLUMN secret_values_key TEXT;
