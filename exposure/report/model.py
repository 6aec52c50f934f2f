"""The Report: what a screening found, as frozen values with a stable JSON form.

The JSON schema (``schema: "exposure.report/2"``) is documented in ``docs/report-schema.md``.
Top-level keys: ``schema``, ``address``, ``chain``, ``screened_at``, ``verdict``, ``labels``,
``activity``, ``exposures``, ``rating``, ``findings``, ``stop_nodes``, ``data_state``. Amounts
are exact decimal strings in base units (``amount_raw``, with the asset's ``decimals``) plus a
display value (``amount``); values are in the valuation unit named by ``value_unit``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "exposure.report/2"


@dataclass(frozen=True)
class Hop:
    """One transfer on an evidence path (addresses in output form, e.g. EIP-55)."""

    from_address: str
    to_address: str
    tx_hash: str
    block_number: int
    block_time: str
    asset: str
    amount: float
    amount_raw: str
    log_index: int | None = None
    trace_address: str | None = None
    vout: int | None = None
    edge_transfers: int = 1
    edge_value: float = 0.0
    #: the asset's decimals: ``amount_raw`` / 10**decimals is the exact amount (None: unknown)
    decimals: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``from``/``to`` keys)."""
        d = asdict(self)
        d["from"] = d.pop("from_address")
        d["to"] = d.pop("to_address")
        return d


@dataclass(frozen=True)
class Exposure:
    """The nearest labelled entity of one category in one direction (hops None: none found)."""

    category: str
    direction: str
    hops: int | None
    exposure_type: str | None
    address: str | None = None
    actor: str | None = None
    actor_label: str | None = None
    label: str | None = None
    confidence: str | None = None
    confidence_level: int | None = None
    source: str | None = None
    pack: str | None = None
    serves_mainland: str | None = None
    evidence: str | None = None
    value: float = 0.0
    share: float = 0.0
    path: tuple[Hop, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form; nothing found (hops None): only category, direction and hops."""
        if self.hops is None:
            return {"category": self.category, "direction": self.direction, "hops": None}
        d = asdict(self)
        d["path"] = [h.to_dict() for h in self.path]
        return d


@dataclass(frozen=True)
class AssetActivity:
    """Transfers of one asset in one direction."""

    asset: str
    direction: str
    transfers: int
    amount: float
    value: float


@dataclass(frozen=True)
class Activity:
    """What the indexed data shows of the address itself."""

    seen: bool
    first_seen: str | None = None
    last_seen: str | None = None
    assets: tuple[AssetActivity, ...] = ()
    indexed_range: str | None = None
    counterparties_in: int = 0
    counterparties_out: int = 0


@dataclass(frozen=True)
class Reason:
    """Why the rating is what it is, as values (the report layer puts them in words): rule
    ``rule`` (its number in the policy file) of level ``level`` fired for the exposure of
    ``category`` in ``direction`` at ``hops`` with value ``share``, because of its bounds
    ``max_hops`` / ``min_share`` (None: not stated by the rule)."""

    level: str
    category: str
    direction: str
    hops: int
    rule: int
    max_hops: int | None = None
    min_share: float | None = None
    share: float = 0.0


@dataclass(frozen=True)
class Rating:
    """The rating under a policy: the highest level, and per exposure that met any rule the
    highest rule it met (highest level first). ``levels`` is the policy's order, lowest first."""

    level: str
    policy: str
    reasons: tuple[Reason, ...] = ()
    levels: tuple[str, ...] = ("none", "low", "medium", "high")

    def rank(self, level: str | None) -> int:
        """Position of ``level`` in ``levels`` (-1: none or unknown)."""
        return self.levels.index(level) if level in self.levels else -1

    def reason_for(self, category: str, direction: str) -> Reason | None:
        """The reason of the exposure of ``category`` and ``direction``, if a rule fired."""
        for reason in self.reasons:
            if reason.category == category and reason.direction == direction:
                return reason
        return None


@dataclass(frozen=True)
class Finding:
    """What an officer reads as one line: one entity reached in one direction (``self``: the
    screened address is itself labelled, 0 hops), with every category it was reached as, the
    highest rating reason among them, and one evidence path (``exposure.path``, of the nearest
    of its exposures)."""

    direction: str
    hops: int
    categories: tuple[str, ...]
    exposure: Exposure
    reason: Reason | None = None

    @property
    def level(self) -> str | None:
        """The level of the finding's reason (None: no rule fired)."""
        return self.reason.level if self.reason else None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the path is the exposure's of the first category, not repeated)."""
        e = self.exposure
        return {
            "direction": self.direction, "hops": self.hops, "categories": list(self.categories),
            "address": e.address, "actor": e.actor, "actor_label": e.actor_label,
            "label": e.label, "confidence": e.confidence, "source": e.source,
            "level": self.level, "reason": asdict(self.reason) if self.reason else None,
            "path_of": {"category": e.category, "direction": e.direction},
        }


def entity_key(e: Exposure) -> str:
    """Who an exposure reached: its actor (one exchange = one actor across wallets), else the
    labelled address."""
    return f"actor:{e.actor}" if e.actor else f"address:{(e.address or '').lower()}"


@dataclass(frozen=True)
class StopNode:
    """An unlabelled high-degree node the walk did not pass through."""

    address: str
    direction: str
    degree: int


@dataclass(frozen=True)
class Report:
    """One screened address."""

    address: str
    chain: str
    screened_at: str
    activity: Activity
    exposures: tuple[Exposure, ...]
    rating: Rating
    stop_nodes: tuple[StopNode, ...] = ()
    labels: tuple[dict[str, Any], ...] = ()
    data_state: dict[str, Any] = field(default_factory=dict)
    max_hops: int = 6
    value_unit: str = "USD"

    def exposure(self, category: str, direction: str) -> Exposure:
        """The entry of ``category`` and ``direction`` (always present)."""
        for item in self.exposures:
            if item.category == category and item.direction == direction:
                return item
        raise KeyError((category, direction))

    def found(self) -> list[Exposure]:
        """Exposures with something within max_hops, nearest first, then in screening order."""
        order = {c: i for i, c in enumerate(dict.fromkeys(e.category for e in self.exposures))}
        return sorted(
            (e for e in self.exposures if e.hops is not None),
            key=lambda e: (e.hops, order[e.category], e.direction),
        )

    def findings(self) -> list[Finding]:
        """One per (entity, direction): exposures found reaching the same entity in the same
        direction are one finding (0 hops, in either direction: one ``self`` finding per entity).
        Highest rated first, then nearest, then sources before destinations."""
        order = {c: i for i, c in enumerate(dict.fromkeys(e.category for e in self.exposures))}
        groups: dict[tuple[str, str], list[Exposure]] = {}
        for e in self.found():
            direction = "self" if e.hops == 0 else e.direction
            groups.setdefault((direction, entity_key(e)), []).append(e)
        out = []
        for (direction, _), items in groups.items():
            items.sort(key=lambda e: (e.hops, order[e.category], e.direction))
            reasons = [r for e in items
                       if (r := self.rating.reason_for(e.category, e.direction)) is not None]
            best = max(reasons, key=lambda r: self.rating.rank(r.level), default=None)
            out.append(Finding(direction, items[0].hops or 0,
                               tuple(dict.fromkeys(e.category for e in items)), items[0], best))
        rank = {"self": 0, "in": 1, "out": 2}
        out.sort(key=lambda f: (-self.rating.rank(f.level), f.hops, rank.get(f.direction, 3),
                                order[f.categories[0]]))
        return out

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """The stable JSON form; ``verdict`` is in ``lang`` (everything else is the same in
        every language)."""
        from .verdict import verdict_dict

        return {
            "schema": SCHEMA,
            "address": self.address,
            "chain": self.chain,
            "screened_at": self.screened_at,
            "max_hops": self.max_hops,
            "value_unit": self.value_unit,
            "verdict": verdict_dict(self, lang),
            "labels": list(self.labels),
            "activity": asdict(self.activity),
            "exposures": [e.to_dict() for e in self.exposures],
            "rating": asdict(self.rating),
            "findings": [f.to_dict() for f in self.findings()],
            "stop_nodes": [asdict(s) for s in self.stop_nodes],
            "data_state": self.data_state,
        }

    def to_json(self, indent: int | None = 2, lang: str = "en") -> str:
        """The report as JSON text (the verdict in ``lang``)."""
        return json.dumps(self.to_dict(lang), indent=indent, ensure_ascii=False, default=str)
