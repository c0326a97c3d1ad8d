DELETE FROM integrations WHERE status = 'pending_approval';
ALTER TABLE integrations DROP COLUMN change_request_id;
DROP TABLE change_request_events;
DROP TABLE change_requests;
DROP TABLE approval_policy;
