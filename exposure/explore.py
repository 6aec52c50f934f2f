"""Investigation in a notebook: a neighbourhood as tables and as an interactive graph, the flows
per category over time, the evidence of a report as a table and as a picture for case files.

The public API the notebooks in ``notebooks/`` use (they double as its documentation):

- :func:`check_store` says what a database holds, or how to create one;
- :func:`validate` checks and normalises an address (the chain chosen as ``exposure screen`` does);
- :func:`neighbourhood` expands N hops around an address with filters (asset, time, minimum
  amount) and returns a :class:`Neighbourhood`: ``nodes`` and ``edges`` as Arrow tables
  (``.to_pandas()`` for pandas), ``to_csv``/``to_parquet`` exports, and ``figure()``, an
  interactive plotly graph (labelled nodes coloured by category, edge width by value) that
  ``to_html`` writes as one self-contained file (plotly.js inline, no network);
- :func:`flows_over_time` tabulates the address's inbound and outbound value per period and per
  category, and :func:`plot_flows` draws it;
- :func:`evidence_table` lists every hop of every evidence path of a Report;
- :func:`save_graph` writes the Report's evidence graph as SVG or PNG (what ``exposure screen
  --graph`` writes).

Edges follow the screening's edge filters (README, "Edge filters"): tracked assets only, no
zero-value transfers, no dust; :func:`neighbourhood` can narrow them further. Nothing here prints;
errors are :mod:`exposure.errors` exceptions whose messages say what to do next. Plotting needs
the ``notebooks`` extra (``pip install 'exposure[notebooks]'``: plotly, pandas).
"""

from __future__ import annotations

import datetime as dt
import html as _html
import math
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .addresses import looks_tron, normalize_tron
from .config import db_path
from .errors import ExposureError, InputError, StoreError
from .graph.build import edge_predicate_sql, tracked_assets
from .graph.settings import GraphSettings
from .labels.taxonomy import SCREENING_CATEGORIES
from .report.model import Report

if TYPE_CHECKING:
    import plotly.graph_objects as go

DIRECTIONS = ("in", "out", "both")

#: ``freq`` of :func:`flows_over_time` (pandas-style aliases) -> DuckDB ``date_trunc`` unit.
FREQUENCIES = {
    "s": "second", "min": "minute", "h": "hour", "D": "day", "W": "week", "M": "month",
    "MS": "month", "Q": "quarter", "QS": "quarter", "Y": "year", "YS": "year", "A": "year",
}

#: The category of counterparties that reach no labelled node within the hops.
UNLABELLED = "unlabelled"

#: Picture formats of :func:`save_graph` (by file suffix).
PICTURE_SUFFIXES = (".svg", ".png")

#: The interactive graph draws arrowheads up to this many edges (beyond: plain lines), and
#: captions of unlabelled nodes up to this many nodes.
_DETAILED_EDGES = 400
_CAPTIONED_NODES = 60


class PictureError(ExposureError):
    """A picture cannot be written (no SVG-to-PNG converter); the message says what to install."""

    exit_code = 1


def _create_hint(path: Path) -> str:
    return (
        f"create a demo database with `exposure demo --db {path}`, or index a chain into it with "
        f"`exposure index evm --rpc URL --db {path}` (then `exposure labels import ...`)"
    )


@contextmanager
def _store(db: str | Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to a store that holds indexed data (else a StoreError that says
    how to create one); closed on exit."""
    from .screening import open_store

    path = db_path(db)
    if not path.exists():
        raise StoreError(f"no database at {path}: {_create_hint(path)}")
    con = open_store(path)
    try:
        indexed = con.execute("SELECT count(*) FROM checkpoints").fetchall()[0][0]
        if not indexed:
            raise StoreError(
                f"the database {path} holds no indexed transfers: {_create_hint(path)}"
            )
        yield con
    finally:
        con.close()


# -- what a store holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreSummary:
    """What a database holds: per chain the indexed blocks and transfers, and labelled addresses."""

    db: Path
    chains: tuple[tuple[str, int, int, int], ...]  # (chain, first block, last block, transfers)
    labelled_addresses: int

    def __str__(self) -> str:
        parts = [f"{c} blocks {a}-{b} ({n:,} transfers)" for c, a, b, n in self.chains]
        return (f"{self.db}: {'; '.join(parts)}; "
                f"{self.labelled_addresses:,} labelled addresses")


def check_store(db: str | Path | None = None) -> StoreSummary:
    """What the database at ``db`` (default as the CLI: ``$EXPOSURE_DB``, else
    ``exposure.duckdb``) holds; a missing or empty one raises a StoreError that says how to
    create one."""
    with _store(db) as con:
        rows = con.execute(
            """SELECT c.chain, min(c.first_block), max(c.last_block),
                      (SELECT count(*) FROM transfers t WHERE t.chain = c.chain)
               FROM checkpoints c GROUP BY c.chain ORDER BY c.chain"""
        ).fetchall()
        labelled = con.execute(
            "SELECT count(DISTINCT (chain, address)) FROM address_categories"
        ).fetchall()[0][0]
    return StoreSummary(
        db_path(db), tuple((r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows), int(labelled)
    )


def _indexed_chains(con: duckdb.DuckDBPyConnection) -> list[str]:
    from .screening import Screener

    return Screener(con).indexed_chains()


def validate(address: str, *, chain: str = "auto", db: str | Path | None = None) -> tuple[str, str]:
    """``(chain, address)`` for a declared address: validated (EIP-55 checksum when mixed case,
    Bitcoin base58check/bech32/bech32m) and in output form; the chain is chosen as ``exposure
    screen`` chooses it (``db`` tells which chains are indexed). A malformed address raises
    InputError."""
    from .screening import detect_chain, display

    indexed: list[str] = []
    if db is not None or db_path(None).exists():
        with _store(db) as con:
            indexed = _indexed_chains(con)
    chosen, normal = detect_chain(address, chain, indexed)
    return chosen, display(chosen, normal)


# -- filters -----------------------------------------------------------------------------------


def _iso(value: str | dt.date | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} must be an ISO date or time, got {value!r}") from None
    return value


@dataclass(frozen=True)
class _Filters:
    chain: str
    assets: tuple[str, ...]
    min_amount: float | None
    settings: GraphSettings
    include_dust: bool

    def table(self) -> pa.Table:
        """The per-asset parameters: reference price and the smallest amount that counts."""
        floor = self.min_amount or 0.0
        return pa.table({
            "asset": pa.array(self.assets, pa.string()),
            "price": pa.array([self.settings.price(a) for a in self.assets], pa.float64()),
            "least": pa.array(
                [max(floor, 0.0 if self.include_dust else self.settings.dust(a))
                 for a in self.assets], pa.float64()),
        })

    def describe(self) -> dict[str, Any]:
        start, end = self.settings.window()
        return {
            "assets": list(self.assets), "since": start.isoformat() if start else None,
            "until": end.isoformat() if end else None, "min_amount": self.min_amount,
            "dust_excluded": not self.include_dust, "dust_usd": self.settings.dust_usd,
        }


def _filters(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    assets: Sequence[str] | str | None,
    since: str | dt.date | None,
    until: str | dt.date | None,
    min_amount: float | None,
    settings: GraphSettings | None,
    include_dust: bool,
) -> _Filters:
    tracked = tracked_assets(con, chain)
    if assets is None:
        chosen = tuple(tracked)
    else:
        wanted = [assets] if isinstance(assets, str) else list(assets)
        chosen_list: list[str] = []
        for asset in wanted:
            text = str(asset).strip()
            if text.lower().startswith("0x") and len(text) == 42:  # an untracked token, by address
                chosen_list.append(text.lower())
            elif chain == "tron" and looks_tron(text):  # a TRC-20 contract, T... or 41-hex
                chosen_list.append(normalize_tron(text))
            elif text.upper() in tracked:
                chosen_list.append(text.upper())
            else:
                raise InputError(
                    f"unknown asset {asset!r} on {chain}: use one of {', '.join(tracked)} "
                    "or a token contract address"
                )
        chosen = tuple(dict.fromkeys(chosen_list))
    if min_amount is not None and (not math.isfinite(min_amount) or min_amount < 0):
        raise InputError(f"min_amount must be a non-negative number, got {min_amount!r}")
    base = settings or GraphSettings()
    window = GraphSettings(
        dust_usd=base.dust_usd, dust_units=base.dust_units, prices=base.prices,
        start=_iso(since, "since") or base.start, end=_iso(until, "until") or base.end,
        degree_cap=base.degree_cap,
    )
    return _Filters(chain, chosen, min_amount, window, include_dust)


#: The transfers that pass the filters, as (f, d, asset, amount, value, block_time, ...).
_FILTERED = f"""
    SELECT t.from_address AS f, t.to_address AS d, t.asset, t.amount, t.amount * p.price AS value,
           t.block_time, t.block_number, t.tx_hash
    FROM transfers t JOIN _explore_assets p ON p.asset = t.asset
    WHERE t.from_address <> t.to_address
      AND {edge_predicate_sql("t", least="p.least")}
"""


def _params(filters: _Filters) -> dict[str, Any]:
    start, end = filters.settings.window()
    return {"chain": filters.chain, "start": start, "end": end}


# -- the neighbourhood ---------------------------------------------------------------------------


def _category_rank(category: str) -> tuple[int, str]:
    try:
        return SCREENING_CATEGORIES.index(category), category
    except ValueError:
        return len(SCREENING_CATEGORIES), category


def _primary(categories: Sequence[str]) -> str | None:
    """The category a node is shown with: the first in screening order."""
    return min(categories, key=_category_rank) if categories else None


@dataclass(frozen=True, repr=False)
class Neighbourhood:
    """The transfers around one address.

    ``nodes`` (one row per address): ``address`` (output form, EIP-55 on EVM chains), ``hops``
    (fewest transfers from the centre, following the money; 0 = the centre), ``side`` (centre;
    in = money reached the centre from it; out = money reached it from the centre; both),
    ``labelled``, ``category`` (the first of
    ``categories`` in screening order: mainland_exchange, rwa, exchange, ...), ``categories``,
    ``label`` and ``actor`` (the best tag and its actor), ``expanded`` (its counterparties were
    followed: labelled nodes are terminal as in screening, so an exchange's thousands of
    customers are not pulled in), ``value_in``/``value_out`` (reference USD over the edges
    shown).

    ``edges`` (one row per sender, recipient and asset, every filtered transfer among the nodes):
    ``from_address``, ``to_address``, ``asset``, ``amount`` (total, in units), ``value``
    (reference USD), ``transfers``, ``first_time``, ``last_time``, ``first_tx``.
    """

    address: str
    chain: str
    hops: int
    direction: str
    filters: dict[str, Any]
    nodes: pa.Table
    edges: pa.Table
    truncated: bool = False
    db: Path = field(default_factory=lambda: db_path(None))

    def __repr__(self) -> str:
        cut = ", truncated at max_nodes" if self.truncated else ""
        return (f"Neighbourhood({self.address} on {self.chain}, {self.hops} hop(s) "
                f"{self.direction}: {self.nodes.num_rows} nodes, {self.edges.num_rows} edges{cut})")

    # -- export ------------------------------------------------------------------------------
    def to_parquet(self, folder: str | Path) -> dict[str, Path]:
        """Write ``nodes.parquet`` and ``edges.parquet`` into ``folder``; returns the paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"nodes": out / "nodes.parquet", "edges": out / "edges.parquet"}
        pq.write_table(self.nodes, paths["nodes"])
        pq.write_table(self.edges, paths["edges"])
        return paths

    def to_csv(self, folder: str | Path) -> dict[str, Path]:
        """Write ``nodes.csv`` and ``edges.csv`` (UTF-8; ``categories`` joined with ``;``, times
        ISO 8601 UTC) into ``folder``; returns the paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"nodes": out / "nodes.csv", "edges": out / "edges.csv"}
        cats = [";".join(c or []) for c in self.nodes["categories"].to_pylist()]
        nodes = self.nodes.set_column(
            self.nodes.schema.get_field_index("categories"), "categories",
            pa.array(cats, pa.string()),
        )
        pa_csv.write_csv(nodes, paths["nodes"])
        pa_csv.write_csv(self.edges, paths["edges"])
        return paths

    # -- picture -----------------------------------------------------------------------------
    def figure(self, *, lang: str = "en", title: str | None = None) -> go.Figure:
        """An interactive plotly graph: in-side nodes to the left of the centre, out-side to the
        right, one column per hop; labelled nodes coloured by category (legend), edge width by
        value, arrows the way the money moved; hover for addresses, labels, amounts and dates."""
        return _figure(self, lang, title)

    def to_html(self, path: str | Path, *, lang: str = "en", title: str | None = None) -> Path:
        """Write :meth:`figure` as one self-contained HTML file (plotly.js inline: opens
        offline)."""
        target = Path(path)
        self.figure(lang=lang, title=title).write_html(
            target, include_plotlyjs=True, full_html=True
        )
        return target


def neighbourhood(
    address: str,
    *,
    db: str | Path | None = None,
    chain: str = "auto",
    hops: int = 2,
    direction: str = "both",
    assets: Sequence[str] | str | None = None,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    min_amount: float | None = None,
    max_nodes: int = 500,
    include_dust: bool = False,
    expand_labelled: bool = False,
    settings: GraphSettings | None = None,
) -> Neighbourhood:
    """The addresses within ``hops`` transfers of ``address`` and the transfers among them.

    Parameters
    ----------
    address : the address (validated as ``exposure screen`` does; mixed-case EVM must pass
        EIP-55).
    db : the database (default ``$EXPOSURE_DB``, else ``exposure.duckdb``).
    chain : ``auto`` (from the address and what is indexed) or a chain name.
    hops : how far to expand (1..6).
    direction : ``out`` follows money forward (recipients, recipients' recipients, ...), ``in``
        backward (senders, their senders, ...), ``both`` the union of the two (not an undirected
        walk: a funder's other customers are not pulled in).
    assets : asset symbols (``"USDT"``, ``["ETH", "USDC"]``) or token contract addresses;
        default: the chain's tracked assets.
    since, until : ISO dates or times (or ``datetime``; naive ones are UTC), both inclusive
        (a date is its midnight, as with ``exposure screen --since/--until``); default open.
    min_amount : ignore transfers below this amount (in each asset's own units).
    max_nodes : at most this many nodes (centre included); each hop adds the new nodes with
        the largest value first, and ``truncated`` says when some were left out.
    include_dust : keep transfers below the dust threshold (poisoning shows up).
    expand_labelled : also follow the counterparties of labelled nodes (off: they are
        terminal, as in screening).
    settings : dust thresholds and reference prices (default: the screening's).
    """
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be in, out or both, got {direction!r}")
    if not 1 <= int(hops) <= 6:
        raise InputError(f"hops must be between 1 and 6, got {hops!r}")
    if int(max_nodes) < 1:
        raise InputError(f"max_nodes must be at least 1, got {max_nodes!r}")
    from .screening import detect_chain, display

    with _store(db) as con:
        chosen, centre = detect_chain(address, chain, _indexed_chains(con))
        filters = _filters(con, chosen, assets, since, until, min_amount, settings, include_dust)
        cur = con.cursor()
        try:
            cur.register("_explore_assets", filters.table())
            hop_of, side_of, expanded, truncated, labels = _expand(
                cur, filters, centre, int(hops), direction, int(max_nodes), expand_labelled
            )
            edges = _induced_edges(cur, filters, list(hop_of))
        finally:
            cur.close()

    show = {a: display(chosen, a) for a in hop_of}
    value_in: dict[str, float] = dict.fromkeys(hop_of, 0.0)
    value_out: dict[str, float] = dict.fromkeys(hop_of, 0.0)
    for f, d, v in zip(edges["f"].to_pylist(), edges["d"].to_pylist(),
                       edges["value"].to_pylist(), strict=True):
        value_out[f] += v or 0.0
        value_in[d] += v or 0.0
    order = sorted(hop_of, key=lambda a: (hop_of[a], side_of[a], a))
    categories = [sorted(labels.get(a, {}).get("categories", []), key=_category_rank)
                  for a in order]
    nodes = pa.table({
        "address": pa.array([show[a] for a in order], pa.string()),
        "hops": pa.array([hop_of[a] for a in order], pa.int32()),
        "side": pa.array([side_of[a] for a in order], pa.string()),
        "labelled": pa.array([bool(c) for c in categories], pa.bool_()),
        "category": pa.array([_primary(c) for c in categories], pa.string()),
        "categories": pa.array(categories, pa.list_(pa.string())),
        "label": pa.array([labels.get(a, {}).get("label") for a in order], pa.string()),
        "actor": pa.array([labels.get(a, {}).get("actor") for a in order], pa.string()),
        "expanded": pa.array([a in expanded for a in order], pa.bool_()),
        "value_in": pa.array([value_in[a] for a in order], pa.float64()),
        "value_out": pa.array([value_out[a] for a in order], pa.float64()),
    })
    edge_table = pa.table({
        "from_address": pa.array([show[a] for a in edges["f"].to_pylist()], pa.string()),
        "to_address": pa.array([show[a] for a in edges["d"].to_pylist()], pa.string()),
        "asset": edges["asset"],
        "amount": edges["amount"],
        "value": edges["value"],
        "transfers": edges["transfers"],
        "first_time": edges["first_time"],
        "last_time": edges["last_time"],
        "first_tx": edges["first_tx"],
    })
    return Neighbourhood(
        address=show[centre], chain=chosen, hops=int(hops), direction=direction,
        filters={**filters.describe(), "max_nodes": int(max_nodes),
                 "expand_labelled": expand_labelled},
        nodes=nodes, edges=edge_table, truncated=truncated, db=db_path(db),
    )


def _labels(cur: duckdb.DuckDBPyConnection, chain: str, addresses: list[str]) -> dict[str, dict]:
    """Best tag, actor and categories of each of ``addresses`` that has any."""
    if not addresses:
        return {}
    cur.register("_explore_ask", pa.table({"address": pa.array(addresses, pa.string())}))
    try:
        rows = cur.execute(
            """
            SELECT q.address, b.label, coalesce(a.label, b.actor),
                   (SELECT list(DISTINCT c.category ORDER BY c.category) FROM address_categories c
                    WHERE c.chain = $chain AND c.address = q.address)
            FROM _explore_ask q
            LEFT JOIN best_tags b ON b.chain = $chain AND b.address = q.address
            LEFT JOIN actor_best a ON a.actor_id = b.actor
            """,
            {"chain": chain},
        ).fetchall()
    finally:
        cur.unregister("_explore_ask")
    out = {}
    for address, label, actor, cats in rows:
        if label is not None or cats:
            out[address] = {"label": label, "actor": actor, "categories": list(cats or [])}
    return out


def _expand(
    cur: duckdb.DuckDBPyConnection,
    filters: _Filters,
    centre: str,
    hops: int,
    direction: str,
    max_nodes: int,
    expand_labelled: bool,
) -> tuple[dict[str, int], dict[str, str], set[str], bool, dict[str, dict]]:
    """Breadth-first expansion in SQL, one query per hop and side: the ``in`` tree follows
    senders (where the money came from), the ``out`` tree recipients (where it went); ``both``
    is the union of the two trees, not an undirected walk (so a funder's other customers are
    not pulled in)."""
    sides = [s for s in ("in", "out") if direction in (s, "both")]
    trees: dict[str, dict[str, int]] = {s: {centre: 0} for s in sides}
    frontier: dict[str, list[str]] = {s: [centre] for s in sides}
    nodes = {centre}
    labels = _labels(cur, filters.chain, [centre])
    expanded: set[str] = set()
    truncated = False
    for hop in range(1, hops + 1):
        for side in sides:
            follow = [a for a in frontier[side] if a == centre or expand_labelled
                      or not labels.get(a, {}).get("categories")]
            frontier[side] = []
            if not follow:
                continue
            expanded.update(follow)
            mine, other = ("x.f", "x.d") if side == "out" else ("x.d", "x.f")
            cur.register("_explore_frontier", pa.table({"address": pa.array(follow, pa.string())}))
            try:
                rows = cur.execute(
                    f"WITH x AS ({_FILTERED}) "
                    f"SELECT {other} AS nb, sum(x.value) AS value FROM x "
                    f"JOIN _explore_frontier q ON q.address = {mine} "
                    f"GROUP BY nb ORDER BY value DESC, nb",
                    _params(filters),
                ).fetchall()
            finally:
                cur.unregister("_explore_frontier")
            new = [nb for nb, _ in rows if nb not in trees[side]]
            fresh = [nb for nb in new if nb not in nodes]
            room = max_nodes - len(nodes)
            if len(fresh) > room:  # keep the largest flows (then by address)
                truncated = True
                dropped = set(fresh[room:])
                new = [nb for nb in new if nb not in dropped]
            for nb in new:
                trees[side][nb] = hop
            nodes.update(new)
            labels.update(_labels(cur, filters.chain, [nb for nb in new if nb not in labels]))
            frontier[side] = new
    hop_of: dict[str, int] = {}
    side_of: dict[str, str] = {}
    for node in sorted(nodes):
        found = {s: t[node] for s, t in trees.items() if node in t}
        hop_of[node] = min(found.values())
        side_of[node] = ("centre" if node == centre else "both" if len(found) > 1
                         else next(iter(found)))
    return hop_of, side_of, expanded, truncated, labels


def _induced_edges(cur: duckdb.DuckDBPyConnection, filters: _Filters, nodes: list[str]) -> pa.Table:
    """Every filtered transfer among ``nodes``, aggregated per sender, recipient and asset."""
    cur.register("_explore_nodes", pa.table({"address": pa.array(nodes, pa.string())}))
    try:
        return cur.sql(
            f"""
            WITH x AS ({_FILTERED})
            SELECT x.f, x.d, x.asset, sum(x.amount) AS amount, sum(x.value) AS value,
                   count(*) AS transfers, min(x.block_time) AS first_time,
                   max(x.block_time) AS last_time,
                   arg_min(x.tx_hash, (x.block_number, x.tx_hash)) AS first_tx
            FROM x
            JOIN _explore_nodes a ON a.address = x.f
            JOIN _explore_nodes b ON b.address = x.d
            GROUP BY ALL ORDER BY x.f, x.d, x.asset
            """,
            params=_params(filters),
        ).to_arrow_table()
    finally:
        cur.unregister("_explore_nodes")


# -- flows over time -------------------------------------------------------------------------------


def flows_over_time(
    address: str,
    *,
    db: str | Path | None = None,
    chain: str = "auto",
    hops: int = 2,
    assets: Sequence[str] | str | None = None,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    min_amount: float | None = None,
    freq: str = "D",
    max_nodes: int = 500,
    settings: GraphSettings | None = None,
) -> pa.Table:
    """The address's inbound and outbound value per period, split by the category it comes from
    or goes to.

    The split is the screening's proportional ("haircut") rule applied inside the address's
    :func:`neighbourhood` of ``hops``: a transfer from a labelled counterparty counts fully
    under that counterparty's category (the first in screening order); one from an unlabelled
    counterparty is split in proportion to where that counterparty's own inflows came from,
    and so on back up to ``hops`` transfers from the address (labelled nodes absorb; what is
    traced no further, or only back to the address itself, is ``unlabelled``). Outbound
    transfers likewise, forward. So each period's categories add up to the address's whole
    flow in that period.

    Returns an Arrow table with ``period`` (start of the period, UTC; ``freq``: ``s``, ``min``,
    ``h``, ``D``, ``W`` (weeks start on Monday), ``M``, ``Q``, ``Y``), ``direction`` (in, out),
    ``category``, ``value`` (reference USD), ``transfers`` (how many transfers contributed);
    sorted by period, direction and category.
    """
    unit = FREQUENCIES.get(freq) or (freq if freq in FREQUENCIES.values() else None)
    if unit is None:
        raise InputError(f"freq must be one of {', '.join(FREQUENCIES)}, got {freq!r}")
    nb = neighbourhood(address, db=db, chain=chain, hops=hops, direction="both", assets=assets,
                       since=since, until=until, min_amount=min_amount, max_nodes=max_nodes,
                       settings=settings)
    centre = _internal(nb.address)
    with _store(db) as con:
        filters = _filters(con, nb.chain, assets, since, until, min_amount, settings, False)
        cur = con.cursor()
        try:
            cur.register("_explore_assets", filters.table())
            rows = cur.execute(
                f"""
                WITH x AS ({_FILTERED})
                SELECT date_trunc($unit, x.block_time) AS period,
                       CASE WHEN x.d = $address THEN 'in' ELSE 'out' END AS direction,
                       CASE WHEN x.d = $address THEN x.f ELSE x.d END AS counterparty,
                       sum(x.value), count(*)
                FROM x WHERE x.d = $address OR x.f = $address
                GROUP BY ALL ORDER BY ALL
                """,
                {**_params(filters), "address": centre, "unit": unit},
            ).fetchall()
        finally:
            cur.close()
    split = _Composition(nb, hops)
    totals: dict[tuple[Any, str, str], list[float]] = {}
    for period, direction, counterparty, value, count in rows:
        for category, part in split.of(direction, counterparty).items():
            cell = totals.setdefault((period, direction, category), [0.0, 0])
            cell[0] += (value or 0.0) * part
            cell[1] += int(count)
    keys = sorted(totals, key=lambda k: (k[0], k[1], _category_rank(k[2])))
    return pa.table({
        "period": pa.array([k[0] for k in keys], pa.timestamp("us", tz="UTC")),
        "direction": pa.array([k[1] for k in keys], pa.string()),
        "category": pa.array([k[2] for k in keys], pa.string()),
        "value": pa.array([totals[k][0] for k in keys], pa.float64()),
        "transfers": pa.array([totals[k][1] for k in keys], pa.int64()),
    })


def _internal(address: str) -> str:
    """The store's form of an output-form address (EVM: lowercase)."""
    return address.lower() if address[:2].lower() == "0x" and len(address) == 42 else address


class _Composition:
    """Where an address's inflows come from (outflows go to), by category, as fractions that
    add up to 1: proportional propagation over a neighbourhood's edges, labelled nodes absorbing,
    at most ``hops`` transfers from the neighbourhood's centre."""

    def __init__(self, nb: Neighbourhood, hops: int) -> None:
        self.hops = hops
        self.centre = _internal(nb.address)
        self.category = {
            _internal(a): _primary(c)
            for a, c in zip(nb.nodes["address"].to_pylist(), nb.nodes["categories"].to_pylist(),
                            strict=True) if c
        }
        self.links: dict[str, dict[str, dict[str, float]]] = {"in": {}, "out": {}}
        for f, d, v in zip(nb.edges["from_address"].to_pylist(),
                           nb.edges["to_address"].to_pylist(), nb.edges["value"].to_pylist(),
                           strict=True):
            f, d = _internal(f), _internal(d)
            into = self.links["in"].setdefault(d, {})  # backward: d's senders
            into[f] = into.get(f, 0.0) + (v or 0.0)
            onto = self.links["out"].setdefault(f, {})  # forward: f's recipients
            onto[d] = onto.get(d, 0.0) + (v or 0.0)
        self._memo: dict[tuple[str, str, int], dict[str, float]] = {}

    def of(self, direction: str, counterparty: str) -> dict[str, float]:
        """The split of a transfer with ``counterparty`` (1 hop from the centre)."""
        return self._split(direction, counterparty, 1)

    def _split(self, direction: str, node: str, depth: int) -> dict[str, float]:
        key = (direction, node, depth)
        if key in self._memo:
            return self._memo[key]
        category = self.category.get(node)
        if category is not None:
            result = {category: 1.0}
        elif node == self.centre or depth >= self.hops:
            result = {UNLABELLED: 1.0}
        else:
            links = self.links[direction].get(node, {})
            total = sum(links.values())
            result = {}
            if total <= 0:
                result[UNLABELLED] = 1.0
            for nxt, value in sorted(links.items()):
                if value <= 0:
                    continue
                for cat, part in self._split(direction, nxt, depth + 1).items():
                    result[cat] = result.get(cat, 0.0) + part * value / total
        self._memo[key] = result
        return result


# -- plots -------------------------------------------------------------------------------------


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ExposureError(
            "plotting needs plotly: pip install 'exposure[notebooks]' (or pip install plotly)"
        ) from None
    return go


def _text(value: object) -> str:
    """Data for plotly's text and hover labels (which read a few HTML tags): escaped."""
    from .report.i18n import clean

    return _html.escape(clean(value), quote=False) if value is not None else ""


def _short(address: str) -> str:
    from .report.i18n import short

    return short(address, 8, 6)


def _layout(nb: Neighbourhood) -> dict[str, tuple[float, float]]:
    """Columns by signed hop distance (in-side left, out-side and both right), rows ordered by
    the mean row of each node's neighbours in the previous column (fewer crossings)."""
    column: dict[str, int] = {}
    for a, h, s in zip(nb.nodes["address"].to_pylist(), nb.nodes["hops"].to_pylist(),
                       nb.nodes["side"].to_pylist(), strict=True):
        column[a] = -h if s == "in" else h
    near: dict[str, set[str]] = {}
    for f, d in zip(nb.edges["from_address"].to_pylist(), nb.edges["to_address"].to_pylist(),
                    strict=True):
        near.setdefault(f, set()).add(d)
        near.setdefault(d, set()).add(f)
    pos: dict[str, tuple[float, float]] = {nb.address: (0.0, 0.0)}
    for sign in (1, -1):
        for depth in range(1, nb.hops + 1):
            col = sign * depth
            members = [a for a, c in column.items() if c == col]

            def key(a: str, col: int = col) -> tuple[float, str]:
                before = [pos[n][1] for n in near.get(a, ()) if n in pos
                          and abs(column.get(n, 0)) == abs(col) - 1]
                return (sum(before) / len(before) if before else 0.0, a)

            members.sort(key=key)
            for i, a in enumerate(members):
                pos[a] = (float(col), (len(members) - 1) / 2 - i)
    for a in column:  # anything left (defensive): on the centre's column, below it
        pos.setdefault(a, (0.0, -1.0 - len(pos)))
    return pos


def _figure(nb: Neighbourhood, lang: str, title: str | None) -> go.Figure:
    go = _plotly()
    from .report.html import CATEGORY_COLOURS, INTERMEDIATE_COLOUR, SCREENED_COLOUR, UNKNOWN_COLOUR
    from .report.i18n import category_name, fmt_amount, t

    pos = _layout(nb)
    fig = go.Figure()
    # edges: one drawn edge per sender and recipient, width by total value
    pairs: dict[tuple[str, str], list[dict]] = {}
    for row in nb.edges.to_pylist():
        pairs.setdefault((row["from_address"], row["to_address"]), []).append(row)
    totals = [sum(r["value"] or 0.0 for r in rows) for rows in pairs.values()]
    high = math.log10(1.0 + max(totals, default=0.0))
    low = min(math.log10(1.0 + min(totals, default=0.0)), high - 3.0)  # at least 3 decades

    def width(value: float) -> float:  # logarithmic: 1,000 USD stays visible beside 10 million
        return 1.0 + 7.0 * (math.log10(1.0 + max(value, 0.0)) - low) / (high - low)

    detailed = len(pairs) <= _DETAILED_EDGES
    buckets: dict[float, tuple[list, list]] = {}
    hover_x, hover_y, hover_text = [], [], []
    for (f, d), rows in pairs.items():
        (x0, y0), (x1, y1) = pos[f], pos[d]
        value = sum(r["value"] or 0.0 for r in rows)
        w = round(width(value) * 2) / 2
        if detailed:
            fig.add_annotation(
                x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=2, arrowsize=max(0.6, 1.6 / math.sqrt(w)),
                arrowwidth=w, arrowcolor="rgba(75,85,99,0.55)", standoff=9, startstandoff=6,
                text="",
            )
        else:
            xs, ys = buckets.setdefault(w, ([], []))
            xs.extend((x0, x1, None))
            ys.extend((y0, y1, None))
        back = (d, f) in pairs  # both directions: move the hover points apart
        offset = 0.08 if back and f < d else -0.08 if back else 0.0
        hover_x.append((x0 + x1) / 2)
        hover_y.append((y0 + y1) / 2 + offset)
        lines = [f"{_short(f)} → {_short(d)}"]
        for r in rows:
            first, last = r["first_time"], r["last_time"]
            when = (f"{first:%Y-%m-%d %H:%M}" if first == last
                    else f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}")
            lines.append(f"{fmt_amount(r['amount'])} {_text(r['asset'])} · "
                         f"{r['transfers']} transfer(s) · {when} UTC")
            lines.append(f"first tx {_text(r['first_tx'])}")
        lines.append(f"≈ {value:,.2f} USD (reference prices)")
        hover_text.append("<br>".join(lines))
    for w, (xs, ys) in sorted(buckets.items()):
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                 line={"width": w, "color": "rgba(75,85,99,0.5)"}))
    fig.add_trace(go.Scatter(
        x=hover_x, y=hover_y, mode="markers", hovertext=hover_text, hoverinfo="text",
        marker={"size": 10, "color": "rgba(0,0,0,0)"}, showlegend=False, name="transfers",
    ))
    # nodes: the centre, then one trace per category (the legend), then the unlabelled
    rows = nb.nodes.to_pylist()
    captions = len(rows) <= _CAPTIONED_NODES
    groups: dict[str, list[dict]] = {}
    for r in rows:
        key = "centre" if r["hops"] == 0 else (r["category"] or UNLABELLED)
        groups.setdefault(key, []).append(r)
    order = ["centre", *sorted((k for k in groups if k not in ("centre", UNLABELLED)),
                               key=_category_rank), UNLABELLED]
    for key in order:
        members = groups.get(key)
        if not members:
            continue
        if key == "centre":
            name, colour, size = t("screened_node", lang), SCREENED_COLOUR, 24
        elif key == UNLABELLED:
            name, colour, size = UNLABELLED, INTERMEDIATE_COLOUR, 11
        else:
            name, colour, size = (category_name(key, lang),
                                  CATEGORY_COLOURS.get(key, UNKNOWN_COLOUR), 18)
        texts, hovers = [], []
        for r in members:
            who = r["actor"] or r["label"]
            if key == "centre" or key != UNLABELLED:
                texts.append(_text(who) if who and key != "centre" else _short(r["address"]))
            else:
                texts.append(_short(r["address"]) if captions else "")
            hover = [f"<b>{_text(r['address'])}</b>"]
            if r["label"]:
                hover.append(_text(r["label"]) + (f" ({_text(r['actor'])})" if r["actor"] else ""))
            if r["categories"]:
                hover.append(" / ".join(_text(category_name(c, lang)) for c in r["categories"]))
            hover.append(f"{r['hops']} hop(s) · in ≈ {r['value_in']:,.2f} USD · "
                         f"out ≈ {r['value_out']:,.2f} USD")
            if r["labelled"] and not r["expanded"] and r["hops"] < nb.hops:
                hover.append("labelled: not expanded (terminal, as in screening)")
            hovers.append("<br>".join(hover))
        fig.add_trace(go.Scatter(
            x=[pos[r["address"]][0] for r in members], y=[pos[r["address"]][1] for r in members],
            mode="markers+text", name=name, text=texts, textposition="bottom center",
            hovertext=hovers, hoverinfo="text",
            marker={"size": size, "color": colour, "line": {"width": 1.5, "color": "#ffffff"}},
        ))
    tallest = max((sum(1 for p in pos.values() if p[0] == x) for x in {p[0] for p in pos.values()}),
                  default=1)
    heading = title or (f"{nb.address} · {nb.chain} · {nb.hops} hop(s) {nb.direction}"
                        + (" · truncated at max_nodes" if nb.truncated else ""))
    fig.update_layout(
        title={"text": _text(heading), "font": {"size": 14}},
        showlegend=True, hovermode="closest", plot_bgcolor="#ffffff", paper_bgcolor="#ffffff",
        height=min(1600, max(420, 70 * tallest + 160)),
        margin={"l": 20, "r": 20, "t": 50, "b": 60},
        xaxis={"visible": False, "range": [min(p[0] for p in pos.values()) - 0.8,
                                           max(p[0] for p in pos.values()) + 0.8]},
        yaxis={"visible": False},
        legend={"itemsizing": "constant", "orientation": "h", "yanchor": "top", "y": -0.02,
                "xanchor": "left", "x": 0},
    )
    return fig


#: Bar widths of :func:`plot_flows` per period unit, in milliseconds (months: about 30 days).
_PERIOD_MS = {"second": 1e3, "minute": 6e4, "hour": 3.6e6, "day": 8.64e7, "week": 6.048e8,
              "month": 2.592e9, "quarter": 7.776e9, "year": 3.1536e10}


def plot_flows(
    flows: pa.Table, *, freq: str = "D", lang: str = "en", title: str | None = None
) -> go.Figure:
    """Bars of :func:`flows_over_time` (give the same ``freq``): inbound value above the axis,
    outbound below, stacked by category (colours as in the reports); one bar per period."""
    go = _plotly()
    from .report.html import CATEGORY_COLOURS, INTERMEDIATE_COLOUR, UNKNOWN_COLOUR
    from .report.i18n import category_name, direction_name

    unit = FREQUENCIES.get(freq) or (freq if freq in FREQUENCIES.values() else "day")
    bar = 0.85 * _PERIOD_MS[unit]
    rows = flows.to_pylist()
    fig = go.Figure()
    categories = sorted({r["category"] for r in rows}, key=_category_rank)
    for direction, sign in (("in", 1.0), ("out", -1.0)):
        for category in categories:
            mine = [r for r in rows if r["direction"] == direction and r["category"] == category]
            if not mine:
                continue
            name = UNLABELLED if category == UNLABELLED else category_name(category, lang)
            colour = (INTERMEDIATE_COLOUR if category == UNLABELLED
                      else CATEGORY_COLOURS.get(category, UNKNOWN_COLOUR))
            fig.add_trace(go.Bar(
                x=[r["period"] for r in mine], y=[sign * r["value"] for r in mine],
                width=[bar] * len(mine), offset=0,
                name=f"{direction_name(direction, lang)} · {name}", marker_color=colour,
                marker_pattern_shape="" if direction == "in" else "/",
                customdata=[r["transfers"] for r in mine],
                hovertemplate="%{x}<br>%{y:,.2f} USD · %{customdata} transfer(s)<extra>"
                              + _text(name) + "</extra>",
            ))
    periods = [r["period"] for r in rows if r["period"] is not None]
    if periods:  # room around the bars: a single period does not fill the whole width
        pad = dt.timedelta(milliseconds=_PERIOD_MS[unit])
        fig.update_xaxes(range=[min(periods) - pad, max(periods) + 2 * pad])
    fig.update_layout(
        barmode="relative", showlegend=True,
        title={"text": _text(title or "Value per period and category"), "font": {"size": 14}},
        yaxis={"title": {"text": "USD (reference prices): in > 0, out < 0"},
               "zeroline": True, "zerolinecolor": "#111827"},
        plot_bgcolor="#ffffff", paper_bgcolor="#ffffff", height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


# -- a report's evidence ---------------------------------------------------------------------------


def evidence_table(report: Report) -> pa.Table:
    """Every hop of every evidence path of ``report``, in the order the money moved: one row per
    transfer with ``category``, ``direction``, ``hops`` (of the exposure), ``step`` (1-based),
    ``from_address``, ``to_address``, ``asset``, ``amount``, ``amount_raw`` (exact, base units),
    ``block_time``, ``block_number``, ``tx_hash`` and ``log_index``/``trace_address``/``vout``."""
    rows = []
    for e in report.found():
        for step, h in enumerate(e.path, start=1):
            rows.append({
                "category": e.category, "direction": e.direction, "hops": e.hops, "step": step,
                "entity": e.actor_label or e.actor or e.label, "from_address": h.from_address,
                "to_address": h.to_address, "asset": h.asset, "amount": h.amount,
                "amount_raw": h.amount_raw, "block_time": h.block_time,
                "block_number": h.block_number, "tx_hash": h.tx_hash, "log_index": h.log_index,
                "trace_address": h.trace_address, "vout": h.vout,
            })
    schema = pa.schema([
        ("category", pa.string()), ("direction", pa.string()), ("hops", pa.int32()),
        ("step", pa.int32()), ("entity", pa.string()), ("from_address", pa.string()),
        ("to_address", pa.string()), ("asset", pa.string()), ("amount", pa.float64()),
        ("amount_raw", pa.string()), ("block_time", pa.string()), ("block_number", pa.int64()),
        ("tx_hash", pa.string()), ("log_index", pa.int64()), ("trace_address", pa.string()),
        ("vout", pa.int64()),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def png_converter() -> str | None:
    """The SVG-to-PNG converter :func:`save_graph` uses: ``rsvg-convert`` (librsvg) if found."""
    return shutil.which("rsvg-convert")


def check_picture_path(path: str | Path) -> Path:
    """``path`` if :func:`save_graph` can write it (``.svg``, or ``.png`` with a converter);
    else an error that says what to install or use (checked before any work is done)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in PICTURE_SUFFIXES:
        raise InputError(f"--graph must end in .svg or .png, got {str(path)!r}")
    if suffix == ".png" and png_converter() is None:
        raise PictureError(
            "writing PNG needs rsvg-convert (Debian/Ubuntu: apt-get install librsvg2-bin; "
            "macOS: brew install librsvg); or write the picture as .svg"
        )
    return target


def save_graph(report: Report, path: str | Path, *, lang: str = "en", scale: float = 2.0) -> Path:
    """Write the evidence graph of ``report`` (the picture in the HTML report: the screened
    address, the paths, the labelled endpoints, amounts and dates on the edges) to ``path``:
    ``.svg`` as it is, ``.png`` rasterised by rsvg-convert at ``scale`` (2: sharp when
    printed). Fonts: a CJK font (Debian: fonts-noto-cjk) for ``lang="zh"``."""
    from .report.render import render

    target = check_picture_path(path)
    svg = render(report, "svg", lang)
    if target.suffix.lower() == ".svg":
        target.write_text(svg, encoding="utf-8")
        return target
    converter = png_converter()
    assert converter is not None  # checked above
    try:
        done = subprocess.run(
            [converter, "--format", "png", "--zoom", f"{scale:g}", "--background-color",
             "white", "--output", str(target)],
            input=svg.encode("utf-8"), capture_output=True, timeout=120, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PictureError(f"rsvg-convert failed to write {target}: {exc}") from None
    if done.returncode != 0 or not target.exists():
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PictureError(
            f"rsvg-convert failed to write {target}: {detail[-1] if detail else done.returncode}"
        )
    return target
