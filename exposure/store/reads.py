"""Reads the indexers, screening and reports need: checkpoints, block hashes, labels, state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Checkpoint:
    """The contiguous block range ``first..last`` a stream has fully committed."""

    stream: str
    first: int
    last: int

    def gap(self, first: int, last: int) -> tuple[int, int] | None:
        """The blocks that adding ``first..last`` would leave uncovered next to this range
        (None when the two touch or overlap)."""
        if first > self.last + 1:
            return self.last + 1, first - 1
        if last < self.first - 1:
            return last + 1, self.first - 1
        return None


def checkpoints(con: duckdb.DuckDBPyConnection, chain: str) -> dict[str, Checkpoint]:
    """Every stream's checkpoint on ``chain``."""
    rows = con.execute(
        "SELECT stream, first_block, last_block FROM checkpoints WHERE chain = ?", [chain]
    ).fetchall()
    return {s: Checkpoint(s, int(a), int(b)) for s, a, b in rows}


@dataclass(frozen=True)
class OpenBlock:
    """A block of ``stream`` on ``chain`` that is not complete in the store: an import rejected
    a row of it (``reason``; ``source`` is the file and row). It lies outside the stream's
    checkpoint until ``index evm`` or a corrected import writes it whole."""

    chain: str
    stream: str
    block: int
    reason: str
    source: str


def open_blocks(
    con: duckdb.DuckDBPyConnection, chain: str | None = None, limit: int | None = None
) -> list[OpenBlock]:
    """Open blocks of ``chain`` (every chain if None), by chain, stream and block."""
    rows = con.execute(
        "SELECT chain, stream, block_number, reason, source FROM open_blocks "
        "WHERE $chain IS NULL OR chain = $chain ORDER BY chain, stream, block_number "
        "LIMIT $limit",
        {"chain": chain, "limit": limit},
    ).fetchall()
    return [OpenBlock(c, s, int(b), r, src) for c, s, b, r, src in rows]


def block_hashes(
    con: duckdb.DuckDBPyConnection, chain: str, first: int, last: int
) -> dict[int, str]:
    """Stored hashes of ``chain``'s blocks ``first..last`` (missing numbers are absent)."""
    rows = con.execute(
        "SELECT number, hash FROM blocks WHERE chain = ? AND number BETWEEN ? AND ?",
        [chain, first, last],
    ).fetchall()
    return {int(n): h for n, h in rows}


def highest_block(con: duckdb.DuckDBPyConnection, chain: str) -> int | None:
    """The highest stored block number of ``chain``, or None."""
    rows = con.execute("SELECT max(number) FROM blocks WHERE chain = ?", [chain]).fetchall()
    return None if rows[0][0] is None else int(rows[0][0])


def table_counts(con: duckdb.DuckDBPyConnection, chain: str) -> dict[str, int]:
    """Row counts per table for ``chain`` (for summaries and tests)."""
    out = {}
    for table in ("blocks", "token_transfers", "native_transfers"):
        out[table] = int(
            con.execute(f"SELECT count(*) FROM {table} WHERE chain = ?", [chain]).fetchall()[0][0]
        )
    return out


# -- screening -------------------------------------------------------------------------------
def indexed_chains(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Chains with any indexed block."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT chain FROM checkpoints ORDER BY 1").fetchall()]


def bitcoin_chains(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Indexed Bitcoin chains."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT chain FROM checkpoints WHERE chain LIKE 'bitcoin%' ORDER BY 1"
    ).fetchall()]


def indexed_span(con: duckdb.DuckDBPyConnection, chain: str) -> tuple[int, int] | None:
    """The lowest first and highest last checkpointed block of ``chain``, or None."""
    rows = con.execute(
        "SELECT min(first_block), max(last_block) FROM checkpoints WHERE chain = ?", [chain]
    ).fetchall()
    if not rows or rows[0][0] is None:
        return None
    return int(rows[0][0]), int(rows[0][1])


def all_checkpoints(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every (chain, stream) checkpoint, as the reports' data state lists them."""
    rows = con.execute(
        "SELECT chain, stream, first_block, last_block FROM checkpoints ORDER BY 1, 2"
    ).fetchall()
    return [{"chain": c, "stream": s, "first_block": int(a), "last_block": int(b)}
            for c, s, a, b in rows]


def shipped_pack_digests(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Path -> sha256 of the shipped packs the store holds."""
    return dict(con.execute("SELECT path, sha256 FROM label_packs WHERE shipped").fetchall())


def label_pack_states(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The loaded label packs (shipped first, then by title) with version and counts."""
    rows = con.execute(
        "SELECT title, kind, name, CAST(lastmod AS VARCHAR), substr(sha256, 1, 12), tags, "
        "actors, shipped, is_demo FROM label_packs ORDER BY shipped DESC, title"
    ).fetchall()
    return [{"title": t, "kind": k, "name": n, "lastmod": m, "sha256": h, "tags": int(g),
             "actors": int(a), "shipped": bool(sh), "demo": bool(d)}
            for t, k, n, m, h, g, a, sh, d in rows]


def label_set_state(con: duckdb.DuckDBPyConnection) -> dict:
    """The whole loaded label set in one line: pack and tag counts and one sha256 over every
    pack's sha256 (in title order), so a report pins its labels without listing each pack."""
    rows = con.execute(
        "SELECT title, sha256, tags FROM label_packs ORDER BY title, sha256"
    ).fetchall()
    digest = hashlib.sha256("".join(f"{t}\t{h}\n" for t, h, _ in rows).encode()).hexdigest()
    return {"packs": len(rows), "tags": sum(int(g) for _, _, g in rows), "sha256": digest}


def asset_decimals(con: duckdb.DuckDBPyConnection, chain: str, asset: str) -> int:
    """Decimals of ``asset`` on ``chain`` (its native coin: the chain's); 0 if unknown."""
    rows = con.execute(
        "SELECT decimals FROM assets WHERE chain = ? AND asset = ? "
        "UNION ALL SELECT native_decimals FROM chains WHERE chain = ? AND native_symbol = ?",
        [chain, asset, chain, asset],
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def cluster_of(con: duckdb.DuckDBPyConnection, chain: str, address: str) -> dict | None:
    """The Bitcoin cluster ``address`` belongs to (representative, size, linking tx), if any."""
    rows = con.execute(
        "SELECT cluster, size, linked_by FROM btc_clusters WHERE chain = ? AND address = ?",
        [chain, address],
    ).fetchall()
    if not rows:
        return None
    return {"cluster": rows[0][0], "size": int(rows[0][1]), "linked_by": rows[0][2]}


def cluster_state_key(con: duckdb.DuckDBPyConnection, chain: str) -> str | None:
    """The data key the stored clusters of ``chain`` were computed from, or None."""
    rows = con.execute(
        "SELECT data_key FROM btc_cluster_state WHERE chain = ?", [chain]
    ).fetchall()
    return rows[0][0] if rows else None


def category_tag(
    con: duckdb.DuckDBPyConnection, chain: str, address: str, category: str, *,
    entities: bool = False,
) -> dict:
    """The best tag that puts ``address`` (for a cluster: it or a member) in ``category``, with
    its actor's evidence, the member that carries it and the tx that linked that member."""
    members = (
        "SELECT address FROM btc_clusters WHERE chain = $chain AND cluster = $address "
        "UNION SELECT $address"
        if entities else "SELECT $address"
    )
    rows = con.execute(
        f"""
        SELECT t.label, t.actor, a.label, t.confidence, t.confidence_level, t.source, p.title,
               coalesce(t.serves_mainland, a.serves_mainland), a.evidence, c.address,
               (SELECT linked_by FROM btc_clusters k WHERE k.chain = c.chain
                 AND k.address = c.address)
        FROM address_categories c JOIN tags t USING (tag_id)
        JOIN label_packs p ON p.pack_id = t.pack_id
        LEFT JOIN actor_best a ON a.actor_id = t.actor
        WHERE c.chain = $chain AND c.address IN ({members}) AND c.category = $category
        ORDER BY t.confidence_level DESC, c.address
        """,
        {"chain": chain, "address": address, "category": category},
    ).fetchall()
    if not rows:
        return {}
    r = rows[0]
    return {
        "label": r[0], "linked_by": r[10], "actor": r[1], "actor_label": r[2],
        "confidence": r[3],
        "confidence_level": int(r[4]), "source": r[5], "pack": r[6],
        "serves_mainland": r[7] if r[7] != "unknown" else None, "evidence": r[8],
        "member": r[9],
    }


def address_tags(con: duckdb.DuckDBPyConnection, chain: str, address: str) -> tuple[dict, ...]:
    """Every tag of ``address`` itself (best first) with its categories."""
    rows = con.execute(
        """
        SELECT t.label, t.actor, t.confidence, t.source, p.title,
               list(c.category ORDER BY c.category)
        FROM tags t JOIN label_packs p USING (pack_id)
        LEFT JOIN address_categories c ON c.tag_id = t.tag_id
        WHERE t.chain = ? AND t.address = ?
        GROUP BY ALL ORDER BY max(t.confidence_level) DESC, t.label
        """,
        [chain, address],
    ).fetchall()
    return tuple(
        {"label": r[0], "actor": r[1], "confidence": r[2], "source": r[3], "pack": r[4],
         "categories": [c for c in (r[5] or []) if c]}
        for r in rows
    )
