DROP TABLE revoked_sessions;
DROP TABLE api_tokens;
ALTER TABLE users DROP COLUMN created_by;
ALTER TABLE users DROP COLUMN kind;
