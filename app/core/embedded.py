"""An embedded PostgreSQL (the `pgserver` wheel) for development when DATABASE_URL is unset.

pgserver ships PostgreSQL 16 binaries but no contrib extensions, so the schema uses nothing
beyond core PostgreSQL (the exclusion constraint uses int8range instead of btree_gist).
PostgreSQL refuses to run as root: when we are root, pgserver creates a system user
`pgserver`, gives it the data directory and adds read/traverse permission to that directory's
parents, then runs the server as that user. As a normal user the server runs as you.
The server listens on a Unix socket inside the data directory only (no TCP port), and stops
when the last process that started or joined it exits.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("slotproof.db")


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server under data_dir/pg and return a DSN."""
    import pgserver

    pgdata = data_dir / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    dsn = server.get_uri()
    log.info("embedded postgresql ready", extra={"pgdata": str(pgdata)})
    return dsn
