"""Mining labels derived from the indexed chain itself.

The December 2025 warning also forbids financial support for "mining". Every address paid by a
coinbase transaction is a mining payout address (category ``mining_service``, confidence
``ledger_immanent``: it is read from the ledger). When the coinbase script carries a known pool
tag (``labels/data/pool_tags.json``, kept as data with its source) the tag names the pool.
Re-deriving replaces the previous derived pack of the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb

from exposure.domain import LabelPack, Tag

from .catalog import write_packs
from .taxonomy import CONFIDENCE

POOL_TAGS = Path(__file__).resolve().parent / "data" / "pool_tags.json"


def pool_tags() -> list[dict[str, str]]:
    """The known pool tags (tag, pool, actor)."""
    return json.loads(POOL_TAGS.read_text(encoding="utf-8"))["pools"]


def pool_of(coinbase_script: bytes) -> dict[str, str] | None:
    """The pool whose tag appears in a coinbase script, or None."""
    for entry in pool_tags():
        if entry["tag"].encode() in coinbase_script:
            return entry
    return None


def derive_mining_labels(con: duckdb.DuckDBPyConnection, chain: str) -> int:
    """(Re)write the pack of mining payout addresses of ``chain``; returns its tag count."""
    rows = con.execute(
        """
        SELECT o.address, min(o.block_number) AS first_block,
               arg_min(t.txid, t.block_number) AS txid,
               arg_min(t.coinbase_script, t.block_number) AS script,
               min(b.timestamp) AS first_time
        FROM btc_txs t
        JOIN btc_outputs o ON o.chain = t.chain AND o.txid = t.txid
        LEFT JOIN blocks b ON b.chain = t.chain AND b.number = t.block_number
        WHERE t.chain = ? AND t.is_coinbase AND o.address IS NOT NULL
        GROUP BY o.address ORDER BY o.address
        """,
        [chain],
    ).fetchall()
    tags = []
    for address, first_block, txid, script, first_time in rows:
        pool = pool_of(bytes(script or b""))
        label = f"mining payout address ({pool['pool']})" if pool else "mining payout address"
        tags.append(
            Tag(
                chain=chain,
                address=address,
                label=label,
                source=f"coinbase transaction {txid} (block {first_block})",
                confidence="ledger_immanent",
                confidence_level=CONFIDENCE["ledger_immanent"],
                category="mining_service",
                actor=pool["actor"] if pool else None,
                lastmod=first_time.date().isoformat() if isinstance(first_time, dt.datetime)
                else None,
            )
        )
    digest = hashlib.sha256(repr([(t.address, t.label) for t in tags]).encode()).hexdigest()
    pack = LabelPack(
        name=f"coinbase-payouts-{chain}",
        path=f"derived:{chain}",
        kind="derived",
        title=f"Mining payout addresses of {chain} (from coinbase transactions)",
        creator="exposure",
        sha256=digest,
        lastmod=None,
        is_demo=False,
        tags=tuple(tags),
    )
    write_packs(con, [pack], shipped=False)
    return len(tags)
