"""The three java-tron HTTP calls the indexer makes: the head, blocks by range, infos by block."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from exposure.errors import RpcError

from .decode import block_number
from .http import TronHttpClient

#: java-tron answers at most this many blocks per ``getblockbylimitnext`` (endNum exclusive).
MAX_BLOCKS_PER_CALL = 100


def head_number(client: TronHttpClient) -> int:
    """The height of the node's newest block (``/wallet/getnowblock``)."""
    block = client.post("/wallet/getnowblock", {"visible": True}, context="the head")
    try:
        return block_number(block)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RpcError(
            f"/wallet/getnowblock on {client.safe_url} answered something that is not a block",
            method="/wallet/getnowblock",
        ) from None


def fetch_blocks(
    client: TronHttpClient, first: int, last: int, *, strict: bool = True
) -> list[dict[str, Any]]:
    """Blocks ``first..last`` (inclusive), in order, via ``getblockbylimitnext`` (``visible``,
    so addresses come as ``T...``); a block the node does not have is an RpcError, unless not
    ``strict``: then only the blocks the node has are returned."""
    out: list[dict[str, Any]] = []
    start = first
    while start <= last:
        end = min(last, start + MAX_BLOCKS_PER_CALL - 1)
        answer = client.post(
            "/wallet/getblockbylimitnext",
            {"startNum": start, "endNum": end + 1, "visible": True},
            context=f"blocks {start}-{end}",
        )
        got = answer.get("block", []) if isinstance(answer, dict) else None
        if not isinstance(got, list):
            raise RpcError(
                f"/wallet/getblockbylimitnext for blocks {start}-{end} on {client.safe_url} "
                "answered something that is not a block list",
                method="/wallet/getblockbylimitnext",
                block_range=(first, last),
            )
        try:
            numbers = [block_number(b) for b in got]
        except (KeyError, TypeError, ValueError, AttributeError):
            numbers = []
        if not strict:
            out.extend(b for b, n in zip(got, numbers, strict=False) if start <= n <= end)
        elif numbers != list(range(start, end + 1)):
            missing = sorted(set(range(start, end + 1)) - set(numbers))
            what = f"blocks {missing[0]}-{missing[-1]} missing" if missing else "blocks in disorder"
            raise RpcError(
                f"/wallet/getblockbylimitnext for blocks {start}-{end} on {client.safe_url}: "
                f"{what} in the answer (blocks {first}-{last} not indexed)",
                method="/wallet/getblockbylimitnext",
                block_range=(first, last),
            )
        else:
            out.extend(got)
        start = end + 1
    return out


def fetch_infos(
    client: TronHttpClient, numbers: Sequence[int], *, workers: int = 4
) -> dict[int, list[dict[str, Any]]]:
    """Each block's transaction infos (``gettransactioninfobyblocknum``, ``visible``), asked
    ``workers`` at a time; block height -> list (an empty block answers ``[]`` or ``{}``)."""

    def one(number: int) -> list[dict[str, Any]]:
        answer = client.post(
            "/wallet/gettransactioninfobyblocknum",
            {"num": number, "visible": True},
            context=f"block {number}",
        )
        if answer == {} or answer is None:
            return []
        if not isinstance(answer, list) or not all(isinstance(i, dict) for i in answer):
            raise RpcError(
                f"/wallet/gettransactioninfobyblocknum for block {number} on {client.safe_url} "
                "answered something that is not a list of transaction infos",
                method="/wallet/gettransactioninfobyblocknum",
                block_range=(number, number),
            )
        return answer

    if workers <= 1 or len(numbers) <= 1:
        return {n: one(n) for n in numbers}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(numbers, pool.map(one, numbers), strict=True))
