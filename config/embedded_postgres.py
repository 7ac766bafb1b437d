"""The embedded PostgreSQL used when no DATABASE_URL is given.

A newcomer needs no database server: the `pgserver` package ships PostgreSQL binaries and runs one on a Unix
socket with its data in `var/pgdata/` inside the project. Every Django or Celery process that needs it calls
`embedded_database_settings()`; pgserver counts the processes holding the server and stops it when the last
one exits, so a demo's web server, worker and beat share one PostgreSQL.
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any

DATABASE_NAME = "atelier"

_servers: dict[Path, Any] = {}


def forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that no longer exist from pgserver's list of handle holders.

    pgserver stops the server when the last holder exits, but a holder killed without running its exit handlers
    (SIGKILL, a default SIGTERM) stays on the list forever and the server would never stop. Runs under pgserver's
    own lock.
    """
    import psutil
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    with PostgresServer._lock:
        holders = DiskList(data_dir / ".handle_pids.json")
        pids = holders.get()
        living = [pid for pid in pids if alive(pid)]
        if living != pids:
            holders.put(living)


def embedded_database_settings(data_dir: Path, *, database: str = DATABASE_NAME) -> dict[str, Any]:
    """Start (or join) the embedded PostgreSQL in `data_dir` and return a Django DATABASES entry for it."""
    import warnings

    # pgserver asks platformdirs for a runtime folder; without XDG_RUNTIME_DIR (CI, root shells) it falls back to
    # /tmp and warns on every start, which says nothing useful to whoever runs the demo.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver
    import psycopg
    from psycopg import sql

    data_dir = data_dir.resolve()
    if data_dir not in _servers:
        data_dir.mkdir(parents=True, exist_ok=True)
        forget_dead_handles(data_dir)
        _servers[data_dir] = pgserver.get_server(data_dir, cleanup_mode="stop")
        # atexit runs last-registered first: prune the list again just before pgserver decides whether to stop.
        atexit.register(forget_dead_handles, data_dir)
    server = _servers[data_dir]
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    info = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or ""),
    }
