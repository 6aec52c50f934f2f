"""The label packs shipped with the package, and whether a store holds exactly them.

Light on purpose (no Arrow, no YAML): every screen asks :func:`shipped_current` before it reads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from exposure.store import reads

#: Folder of the packs shipped with the package (loaded by default).
SHIPPED = Path(__file__).resolve().parent
SHIPPED_DIRS = (SHIPPED / "actors", SHIPPED / "packs")


def shipped_files() -> list[Path]:
    """The packs shipped with the package."""
    return [p for d in SHIPPED_DIRS if d.exists() for p in sorted(d.glob("*.yaml"))]


def shipped_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store holds exactly the shipped packs of this package version."""
    digests = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in shipped_files()}
    return reads.shipped_pack_digests(con) == digests
