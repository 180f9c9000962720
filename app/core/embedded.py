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

import json
import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger("slotproof.db")


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server under data_dir/pg and return a DSN."""
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    pgdata = data_dir / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is unset on servers
        import pgserver

        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    dsn = server.get_uri()
    log.info("embedded postgresql ready", extra={"pgdata": str(pgdata)})
    return dsn


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last process in `.handle_pids.json` exits, but a
    process killed without running atexit stays listed forever and the server would never
    stop. Drop the pids that no longer exist before joining."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
