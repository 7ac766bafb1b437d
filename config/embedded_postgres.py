"""The embedded PostgreSQL used when no DATABASE_URL is given.

A newcomer needs no database server: the `pgserver` package ships PostgreSQL binaries and runs one on a Unix
socket with its data in `var/pgdata/` inside the project. Every Django or Celery process that needs it calls
`embedded_database_settings()`; pgserver counts the processes holding the server and stops it when the last
one exits, so a demo's web server, worker and beat share one PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATABASE_NAME = "atelier"

_servers: dict[Path, Any] = {}


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
        _servers[data_dir] = pgserver.get_server(data_dir, cleanup_mode="stop")
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
