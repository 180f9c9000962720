"""The PHI audit trail: handlers declare `opt=audit(...)`, `middleware.py` writes one
`audit_log` row per call, `api.py` serves `GET …/audit-log` (`audit` scope)."""
