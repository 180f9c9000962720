"""Partner scopes (contract: Partner authentication)."""

SCHEDULING = "scheduling"
CONFIG = "config"
ANALYTICS = "analytics"
AUDIT = "audit"  # ours: read the PHI audit trail (GET …/audit-log)
ALL_SCOPES = (SCHEDULING, CONFIG, ANALYTICS, AUDIT)


def parse_scopes(raw: str, *, separator: str | None = None) -> list[str]:
    """Split a scope list; raises ValueError naming an unknown scope."""
    parts = [p.strip() for p in raw.split(separator)] if raw else []
    scopes = [p for p in parts if p]
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; known: {', '.join(ALL_SCOPES)}")
    return list(dict.fromkeys(scopes))
