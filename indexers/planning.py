"""Block ranges against what is stored: where a run starts, and refusing ranges that leave gaps."""

from __future__ import annotations

from exposure.errors import InputError
from exposure.store.reads import Checkpoint


def start_block(
    cp: Checkpoint | None, what: str, first: int | None, last: int | None, unit: str
) -> int:
    """The first block to index: ``first`` if given, else the one after the checkpoint (or 0).

    A ``first``/``last`` that would leave blocks uncovered next to the stored range ``cp`` is an
    InputError naming the option (``--from-<unit>``/``--to-<unit>``) value that would not.
    ``what`` names the range's owner in the message (a stream on a chain, or a chain).
    """
    if first is None:
        return cp.last + 1 if cp is not None else 0
    if cp is not None:
        if first > cp.last + 1:
            raise InputError(
                f"{what} holds blocks {cp.first}-{cp.last}; starting at {first} would leave a "
                f"gap: use --from-{unit} {cp.last + 1} or lower"
            )
        if last is not None and last < cp.first - 1:
            raise InputError(
                f"{what} holds blocks {cp.first}-{cp.last}; ending at {last} would leave a gap: "
                f"use --to-{unit} {cp.first - 1} or higher"
            )
    return first


def refuse_gap(chain: str, cp: Checkpoint | None, first: int, last: int, what: str) -> None:
    """InputError when importing ``first..last`` next to the stored ``cp`` would leave a gap:
    a gap is reported, never papered over."""
    gap = cp.gap(first, last) if cp is not None else None
    if cp is not None and gap is not None:
        raise InputError(
            f"{cp.stream} on {chain} holds blocks {cp.first}-{cp.last}; {what} covers "
            f"{first}-{last}, leaving blocks {gap[0]}-{gap[1]} missing (uncovered): import or "
            "index them first"
        )
