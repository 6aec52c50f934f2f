"""What a bulk import reports, and the options every bulk format shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from exposure.store.reads import OpenBlock

#: Formats of ``exposure import transfers --format``.
FORMATS = ("cryo", "ethereum-etl", "bitcoin-etl", "exposure")


@dataclass(frozen=True)
class Coverage:
    """Blocks ``first..last`` of ``stream`` on ``chain`` are now complete in the store (a
    stream with an open block is covered only below it)."""

    chain: str
    stream: str
    first: int
    last: int


@dataclass(frozen=True)
class Reject:
    """One row refused: where it is (file, 1-based row or line number) and why."""

    file: str
    row: int
    problem: str


@dataclass(frozen=True)
class ImportProgress:
    """Reported after each committed part of an import (the CLI draws a progress bar)."""

    step: str
    done: int
    total: int


@dataclass(frozen=True)
class ImportOptions:
    """Choices shared by every format.

    ``strict`` stops at the first bad row (DataError naming file and row); otherwise bad rows are
    skipped, counted and written to ``rejects_path`` (CSV: file,row,problem) when given.
    """

    chain: str | None = None
    network: str | None = None
    all_tokens: bool = False
    strict: bool = False
    rejects_path: Path | None = None
    on_progress: Callable[[ImportProgress], None] | None = None


@dataclass(frozen=True)
class ImportResult:
    """What one ``import transfers`` run did."""

    format: str
    chain: str
    files: tuple[str, ...]
    rows_read: int
    rows_imported: int
    rejects: tuple[Reject, ...] = field(default_factory=tuple)
    rejected: int = 0
    rejects_path: str | None = None
    coverage: tuple[Coverage, ...] = field(default_factory=tuple)
    #: The first 20 blocks left open (a row of theirs rejected; not covered) and how many.
    open_blocks: tuple[OpenBlock, ...] = field(default_factory=tuple)
    opened: int = 0
    seconds: float = 0.0

