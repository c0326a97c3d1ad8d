ALTER TABLE runs DROP COLUMN secret_values_key;
ALTER TABLE runs DROP COLUMN secret_values;
