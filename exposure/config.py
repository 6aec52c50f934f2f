"""Paths, environment and URL redaction: the settings every layer shares."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DB = "exposure.duckdb"
DB_ENV = "EXPOSURE_DB"

_SECRETISH = re.compile(r"[A-Za-z0-9_\-]{16,}")


def db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The database path: ``explicit`` (--db), else ``$EXPOSURE_DB``, else ``exposure.duckdb``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env)
    return Path(DEFAULT_DB)


def redact_url(url: str) -> str:
    """Return ``url`` with every credential hidden, safe for logs, errors and the database.

    Userinfo (``user:pass@``) is dropped, query values are replaced by ``***``, and any path
    segment that holds something like an API key (16+ characters of letters, digits, ``-`` or
    ``_``, as Infura, Alchemy and QuickNode put them; also inside a malformed URL's path, e.g.
    ``htp:/user:KEY@host``) becomes ``***``.

    >>> redact_url("https://user:pw@mainnet.infura.io/v3/0123456789abcdef0123?key=s3cret")
    'https://mainnet.infura.io/v3/***?key=***'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = "/".join("***" if _SECRETISH.search(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(
        f"{kv.split('=', 1)[0]}=***" if "=" in kv else "***" for kv in parts.query.split("&") if kv
    )
    return urlunsplit((parts.scheme, host, path, query, ""))
