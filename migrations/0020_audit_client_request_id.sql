-- audit_log.request_id is always our own id; the caller's X-Request-Id, when it sent a
-- well-formed one, is kept beside it for correlation (it used to be stored as the request id,
-- so a caller could choose the id our records are keyed by).
ALTER TABLE audit_log ADD COLUMN client_request_id text;
