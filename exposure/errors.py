"""The project's exceptions: one base, a few kinds, each with the exit code the CLI uses.

Messages say what went wrong and what to do next; library code raises these and never prints or
exits (the CLI's single entry point maps them to exit codes).
"""

from __future__ import annotations


class ExposureError(Exception):
    """Base of every error a user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1


class InputError(ExposureError):
    """Bad user input: an address, a block range, a token spec, an option value."""

    exit_code = 2


class StoreError(ExposureError):
    """The DuckDB store cannot be opened, is of another version, or a statement failed."""

    exit_code = 4


class StoreBusy(StoreError):
    """The store is locked by another process (DuckDB: one writer, or several readers)."""


class RpcError(ExposureError):
    """A node could not be reached or kept failing after retries.

    ``method`` and ``block_range`` name what was being fetched; the URL in the message is always
    redacted.
    """

    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        block_range: tuple[int, int] | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.block_range = block_range
        self.code = code


class DataError(ExposureError):
    """The chain's data contradicts what the store holds in a way we refuse to guess about."""

    exit_code = 6


class LabelPackError(InputError):
    """Label packs are malformed; ``problems`` lists every ``path:line: field: problem``."""

    def __init__(self, problems: list[object]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} problem(s) in label packs: {shown}{more}")
