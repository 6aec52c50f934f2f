"""Screening: validate an address, walk the graph both ways, assemble the evidence and rate it.

Combines the store (activity, labels, data state), the cached graph and the walk kernels. The
semantics are DESIGN.md section 6: hops to the nearest labelled node of each category in each
direction (labelled nodes terminal, stop nodes not traversed), one shortest evidence path in
the order the money moved, and value shares by proportional propagation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np

from .addresses import (
    EVM_CHAINS,
    checksum,
    looks_tron,
    normalize_bitcoin,
    normalize_evm,
    normalize_tron,
)
from .errors import InputError, StoreBusy
from .graph.build import GraphParts, activity_times, edge_evidence
from .graph.cache import graph_for
from .graph.settings import GraphSettings
from .labels.shipped import shipped_current
from .labels.taxonomy import SCREENING_CATEGORIES
from .policy import Policy, load_policy
from .report.model import Activity, AssetActivity, Exposure, Hop, Report, StopNode
from .store import reads
from .store.connect import database_file
from .walk.drivers import Walker

DIRECTIONS = ("in", "out")


@dataclass(frozen=True)
class ScreenOptions:
    """What to screen for and how."""

    direction: str = "both"
    max_hops: int = 6
    categories: tuple[str, ...] = SCREENING_CATEGORIES
    settings: GraphSettings = field(default_factory=GraphSettings)
    share_tolerance: float = 1e-4
    with_shares: bool = True
    #: Walk Bitcoin over address clusters (common-input ownership); None = on for Bitcoin.
    entities: bool | None = None

    def directions(self) -> tuple[str, ...]:
        """The directions to walk."""
        if self.direction == "both":
            return DIRECTIONS
        if self.direction in DIRECTIONS:
            return (self.direction,)
        raise InputError(f"--direction must be in, out or both, got {self.direction!r}")


def detect_chain(address: str, chain: str, indexed: Sequence[str]) -> tuple[str, str]:
    """Validate ``address`` and choose its chain; returns ``(chain, normalised address)``.

    ``chain`` 'auto' picks by format: an EVM address goes to ``ethereum`` if indexed, else the
    only indexed EVM chain (several: the first by name); ``T...`` (34 characters) or ``41`` + 40
    hex digits is Tron (shown as ``T...``); anything else is Bitcoin.
    """
    text = address.strip()
    if not text:
        raise InputError("empty address")
    if len(text) > 120 or not text.isascii() or not text.isprintable():
        raise InputError(f"not an address: {address[:60]!r}")
    looks_evm = text[:2].lower() == "0x" and not looks_tron(text)
    if chain not in ("auto", ""):
        if chain.startswith("bitcoin"):
            return chain, normalize_bitcoin(text, bitcoin_network(chain, text))
        if chain == "tron":
            return chain, normalize_tron(text)
        if chain in EVM_CHAINS or (chain in indexed and looks_evm):
            return chain, normalize_evm(text)
        raise InputError(f"unknown chain {chain!r}: use auto, ethereum, bitcoin or an indexed one")
    if looks_tron(text):
        return "tron", normalize_tron(text)
    if looks_evm:
        normal = normalize_evm(text)
        evm = [c for c in indexed if not c.startswith("bitcoin") and c != "tron"]
        if "ethereum" in evm or not evm:
            return "ethereum", normal
        return sorted(evm)[0], normal
    test_like = text.lower().startswith(("bcrt1", "tb1")) or text[:1] in ("m", "n", "2")
    if test_like:
        candidates = [c for c in indexed if c.startswith("bitcoin") and c != "bitcoin"]
        if candidates:
            chosen = sorted(candidates)[0]
            return chosen, normalize_bitcoin(text, bitcoin_network(chosen, text))
    return "bitcoin", normalize_bitcoin(text)


def bitcoin_network(chain: str, address: str) -> str:
    """bitcoinlib's network for validating ``address`` of ``chain`` (bitcoin, testnet, regtest).

    Regtest base58 addresses use testnet's prefixes (bitcoinlib's regtest does not), so they are
    checked as testnet; bech32 ``bcrt1`` ones as regtest.
    """
    if chain.endswith("regtest"):
        return "regtest" if address.lower().startswith("bcrt1") else "testnet"
    if chain.endswith("testnet"):
        return "testnet"
    return "bitcoin"


def display(chain: str, address: str) -> str:
    """An address in output form (EIP-55 for EVM chains)."""
    if address.startswith("0x") and len(address) == 42:
        return checksum(address)
    return address


class Screener:
    """Screens addresses against one store; keeps graphs and walkers warm between screens."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        options: ScreenOptions | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.con = con
        self.options = options or ScreenOptions()
        self.policy = policy or load_policy()
        self._graphs: dict[str, tuple[GraphParts, Walker]] = {}
        self._decimals: dict[tuple[str, str], int] = {}
        self._indexed: list[str] | None = None
        self._tags: dict[tuple[str, str, str, bool], dict] = {}
        self._present_cats: dict[str, frozenset[str]] = {}
        self._packs: tuple[list[dict], dict] | None = None

    # -- data ----------------------------------------------------------------------------------
    def indexed_chains(self) -> list[str]:
        """Chains with any indexed block (read once: a Screener sees one state of the store)."""
        if self._indexed is None:
            self._indexed = reads.indexed_chains(self.con)
        return self._indexed

    def uses_entities(self, chain: str) -> bool:
        """Whether ``chain`` is walked over address clusters."""
        wanted = self.options.entities
        return chain.startswith("bitcoin") if wanted is None else wanted and (
            chain.startswith("bitcoin"))

    def _present(self, chain: str, graph) -> frozenset[str]:
        """The categories at least one node of ``chain``'s graph carries."""
        if chain not in self._present_cats:
            bits = int(np.bitwise_or.reduce(np.asarray(graph.node_cats))) if graph.n_nodes else 0
            self._present_cats[chain] = frozenset(
                c for i, c in enumerate(graph.categories) if bits >> i & 1)
        return self._present_cats[chain]

    def graph_settings(self, chain: str) -> GraphSettings:
        """The graph filters used for ``chain`` (entity mode on for Bitcoin by default)."""
        return replace(self.options.settings, entities=self.uses_entities(chain))

    def graph(self, chain: str) -> tuple[GraphParts, Walker]:
        """The (cached) graph and a walker over it."""
        if chain not in self._graphs:
            parts, built = graph_for(
                self.con, database_file(self.con), chain, self.graph_settings(chain),
                tuple(self.options.categories),
            )
            # ids and row order are checked (O(E)) on the graph just built; a graph from the
            # cache was checked when it was built and is only checked for shapes and dtypes
            self._graphs[chain] = (parts, Walker(parts.graph, check_ids=built))
        return self._graphs[chain]

    def indexed_range(self, chain: str) -> str:
        """The indexed block range of ``chain``, in words."""
        span = reads.indexed_span(self.con, chain)
        if span is None:
            return f"nothing indexed on {chain}"
        return f"{chain} blocks {span[0]}-{span[1]}"

    def data_state(self, chain: str, used_packs: frozenset[str] = frozenset()) -> dict:
        """The data a report was computed from: indexed blocks, the label packs whose tags the
        report uses (titles ``used_packs``) and the whole label set in one line, settings."""
        if self._packs is None:  # a Screener sees one state of the store
            self._packs = (reads.label_pack_states(self.con), reads.label_set_state(self.con))
        packs, label_set = self._packs
        return {
            "chain": chain,
            "indexed": reads.all_checkpoints(self.con),
            "label_packs": [p for p in packs if p["title"] in used_packs],
            "label_set": label_set,
            "settings": self.options.settings.describe(),
            "max_hops": self.options.max_hops,
            "policy": self.policy.path,
        }

    def decimals(self, chain: str, asset: str) -> int:
        """Decimals of ``asset`` on ``chain`` (native: the chain's)."""
        key = (chain, asset)
        if key not in self._decimals:
            self._decimals[key] = reads.asset_decimals(self.con, chain, asset)
        return self._decimals[key]

    def activity(self, chain: str, address: str) -> Activity:
        """First/last seen and per-asset volumes of ``address`` (from the graph's activity
        arrays: every transfer of the address, no filters; nothing is scanned)."""
        rng = self.indexed_range(chain)
        if chain not in self.indexed_chains():
            return Activity(seen=False, indexed_range=rng)
        parts, _ = self.graph(chain)
        row = parts.address_index(address)
        if row is None:
            return Activity(seen=False, indexed_range=rng)
        act = parts.activity
        lo, hi = int(act.ptr[row]), int(act.ptr[row + 1])
        settings = self.options.settings
        assets = tuple(
            AssetActivity(act.assets[int(act.asset[k])], ("in", "out")[int(act.direction[k])],
                          int(act.count[k]), float(act.amount[k]),
                          float(act.amount[k]) * settings.price(act.assets[int(act.asset[k])]))
            for k in range(lo, hi)
        )
        return Activity(
            seen=True, first_seen=activity_times(int(act.first[row])),
            last_seen=activity_times(int(act.last[row])), assets=assets, indexed_range=rng,
        )

    def cluster_of(self, chain: str, address: str) -> dict | None:
        """The cluster ``address`` belongs to (representative, size, linking tx), if any."""
        return reads.cluster_of(self.con, chain, address)

    def endpoint_label(
        self, chain: str, address: str, category: str, *, entities: bool = False
    ) -> dict:
        """The tag that puts ``address`` (or, for a cluster, one of its members) in
        ``category``, with its actor's evidence; for a cluster also which member carries it and
        the transaction that linked that member."""
        key = (chain, address, category, entities)
        if key not in self._tags:  # a Screener sees one state of the store
            self._tags[key] = reads.category_tag(
                self.con, chain, address, category, entities=entities)
        return dict(self._tags[key])

    def own_labels(self, chain: str, address: str) -> tuple[dict, ...]:
        """The screened address's own labels (best first)."""
        return reads.address_tags(self.con, chain, address)

    # -- the screen ----------------------------------------------------------------------------
    def screen(self, address: str, *, chain: str = "auto") -> Report:
        """Screen one address (see the module docstring); raises InputError if malformed."""
        chosen, normal = detect_chain(address, chain, self.indexed_chains())
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        opts = self.options
        directions = opts.directions()
        activity = self.activity(chosen, normal)
        exposures: list[Exposure] = []
        stops: list[StopNode] = []
        node = None
        parts = walker = None
        cluster = None
        if chosen in self.indexed_chains():
            parts, walker = self.graph(chosen)
            key = normal
            if self.uses_entities(chosen):
                cluster = self.cluster_of(chosen, normal)
                key = cluster["cluster"] if cluster else normal
            node = parts.node_of(key)
            if node is not None and activity.seen:
                g = parts.graph
                activity = replace(
                    activity,
                    counterparties_in=int(g.in_indptr[node + 1] - g.in_indptr[node]),
                    counterparties_out=int(g.out_indptr[node + 1] - g.out_indptr[node]),
                )
        for direction in directions:
            found: dict[str, Exposure] = {}
            if node is not None and walker is not None and parts is not None:
                found, met = self._walk(chosen, parts, walker, node, direction, normal)
                stops.extend(met)
            for category in opts.categories:
                exposures.append(
                    found.get(category)
                    or Exposure(category=category, direction=direction, hops=None,
                                exposure_type=None)
                )
        exposures_t = tuple(exposures)
        labels = self.own_labels(chosen, normal)
        used = frozenset([e.pack for e in exposures_t if e.pack]
                         + [t["pack"] for t in labels if t.get("pack")])
        return Report(
            address=display(chosen, normal),
            chain=chosen,
            screened_at=now,
            activity=activity,
            exposures=exposures_t,
            rating=self.policy.rate(exposures_t),
            stop_nodes=tuple(stops),
            labels=labels,
            data_state=self.data_state(chosen, used),
            max_hops=opts.max_hops,
        )

    def _walk(
        self, chain: str, parts: GraphParts, walker: Walker, node: int, direction: str,
        screened: str,
    ) -> tuple[dict[str, Exposure], list[StopNode]]:
        opts = self.options
        graph = parts.graph
        # only categories some node carries: the walk stops once they are all found (one that
        # no node carries can never be, and walking on for it would cover the whole graph)
        present = self._present(chain, graph)
        wanted = [c for c in opts.categories if c in present]
        walk = walker.nearest(node, direction, opts.max_hops, wanted)
        shares = (
            walker.shares(node, direction, opts.max_hops, opts.share_tolerance)
            if opts.with_shares else None
        )
        total = shares.total_value if shares is not None else 0.0
        evidence = edge_evidence(  # every path's transfers in one read
            self.con, parts, self.graph_settings(chain),
            [e for hit in walk.nearest if hit.hops for e in hit.path_edges],
        )
        out: dict[str, Exposure] = {}
        for hit in walk.nearest:
            if hit.hops is None or hit.node is None:
                continue
            category = hit.category
            endpoint = parts.node_address(hit.node)
            entities = self.uses_entities(chain)
            info = self.endpoint_label(chain, endpoint, category, entities=entities)
            if entities and info.get("member"):
                endpoint = info["member"]
                cluster = self.cluster_of(chain, endpoint)
                if cluster and endpoint != screened:
                    how = (f"linked by tx {info['linked_by']}" if info.get("linked_by")
                           else "its representative")
                    info["label"] = (
                        f"{info['label']} (via its cluster of {cluster['size']} addresses: "
                        f"member {endpoint}, {how})"
                    )
            share = shares.for_category(category)[0] if shares is not None else 0.0
            out[category] = Exposure(
                category=category,
                direction=direction,
                hops=hit.hops,
                exposure_type="direct" if hit.hops <= 1 else "indirect",
                address=display(chain, endpoint),
                actor=info.get("actor"),
                actor_label=info.get("actor_label"),
                label=info.get("label"),
                confidence=info.get("confidence"),
                confidence_level=info.get("confidence_level"),
                source=info.get("source"),
                pack=info.get("pack"),
                serves_mainland=info.get("serves_mainland"),
                evidence=info.get("evidence"),
                value=share * total,
                share=share,
                path=tuple(self._hops(chain, parts, hit.path_edges, evidence)),
            )
        met = [
            StopNode(display(chain, parts.node_address(s)), direction,
                     int(graph.out_indptr[s + 1] - graph.out_indptr[s]
                         + graph.in_indptr[s + 1] - graph.in_indptr[s]))
            for s in walk.stop_nodes
        ]
        return out, met

    def _hops(
        self, chain: str, parts: GraphParts, edges: Sequence[int], found: dict[int, dict],
    ) -> list[Hop]:
        hops = []
        for e in edges:
            row = found[int(e)]
            asset = row["asset"]
            raw = row["amount"]
            hops.append(
                Hop(
                    from_address=display(chain, row["from"]),
                    to_address=display(chain, row["to"]),
                    tx_hash=row["tx"],
                    block_number=int(row["block"]),
                    block_time=dt.datetime.fromtimestamp(row["time"], dt.UTC).isoformat(),
                    asset=asset,
                    amount=int(raw) / 10 ** self.decimals(chain, asset),
                    amount_raw=raw,
                    decimals=self.decimals(chain, asset),
                    log_index=row["log_index"],
                    trace_address=row["trace_address"]
                    if row["log_index"] is None and row["vout"] is None
                    else None,
                    vout=row["vout"],
                    edge_transfers=int(parts.edge_count[int(e)]),
                    edge_value=float(parts.graph.edge_value[int(e)]),
                )
            )
        return hops


def clusters_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every indexed Bitcoin chain's clusters match its indexed data."""
    chains = reads.bitcoin_chains(con)
    if not chains:
        return True
    from .graph.clusters import cluster_data_key  # Arrow and the writer: only with Bitcoin

    return all(reads.cluster_state_key(con, chain) == cluster_data_key(con, chain)
               for chain in chains)


#: How long a screen waits for another process's short write (e.g. a first screen loading the
#: shipped label packs) before it says "retry" (an indexer's long write is not waited for).
LOCK_WAIT_SECONDS = 2.0


def open_store(db: str | Path | None = None, *, write: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store for screening, read-only, so any number of screens and batches run at once
    (screening never writes: what it derives lives in the graph cache).

    Once, when the store lacks the current shipped label packs or Bitcoin clusters, they are
    written first; if other processes are reading the store at that moment the screen goes on
    with the data as it is (the report's data state names the packs used). ``write`` returns a
    writable connection instead (for callers that write labels themselves).
    """
    from .store import connect

    con = connect(db, read_only=True, wait=LOCK_WAIT_SECONDS)
    if not write and shipped_current(con) and clusters_current(con):
        return con
    con.close()
    try:
        con = connect(db, wait=LOCK_WAIT_SECONDS if write else 1.0)
    except StoreBusy:
        if write:
            raise
        return connect(db, read_only=True, wait=LOCK_WAIT_SECONDS)
    from .graph.clusters import ensure_clusters  # the writers: only when something is missing
    from .labels.catalog import ensure_shipped

    try:
        ensure_shipped(con)
        for chain in reads.bitcoin_chains(con):
            ensure_clusters(con, chain)
    except BaseException:
        con.close()
        raise
    if write:
        return con
    con.close()
    return connect(db, read_only=True, wait=LOCK_WAIT_SECONDS)


def screen(
    address: str,
    *,
    db: str | Path | None = None,
    chain: str = "auto",
    direction: str = "both",
    max_hops: int = 6,
    policy: str | Path | None = None,
    settings: GraphSettings | None = None,
) -> Report:
    """Screen one address against the store at ``db`` (default as the CLI): the public API."""
    con = open_store(db)
    try:
        screener = Screener(
            con,
            options=ScreenOptions(direction=direction, max_hops=max_hops,
                                  settings=settings or GraphSettings()),
            policy=load_policy(policy),
        )
        return screener.screen(address, chain=chain)
    finally:
        con.close()
