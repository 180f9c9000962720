"""An embedded PostgreSQL (the `pgserver` wheel) for development when DATABASE_URL is unset.

pgserver ships PostgreSQL 16 binaries but no contrib extensions, so the schema uses nothing
beyond core PostgreSQL (the exclusion constraint uses int8range instead of btree_gist).
PostgreSQL refuses to run as root: when we are root, pgserver creates a system user
`pgserver` and runs the server as that user, which must own the data directory.
The server is stopped when the last process using it exits.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("slotproof.db")


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server under data_dir/pg and return a DSN."""
    import pgserver

    pgdata = data_dir / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # the unprivileged server user must be able to traverse into data_dir
        data_dir.chmod(0o755)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    dsn = server.get_uri()
    log.info("embedded postgresql ready", extra={"pgdata": str(pgdata)})
    return dsn
