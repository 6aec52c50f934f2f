"""The Report: what a screening found, as frozen values with a stable JSON form.

The JSON schema (``schema: "exposure.report/1"``) is documented in ``docs/report-schema.md``.
Top-level keys: ``schema``, ``address``, ``chain``, ``screened_at``, ``labels``, ``activity``,
``exposures``, ``rating``, ``stop_nodes``, ``data_state``. Amounts are exact decimal strings in
base units (``amount_raw``) plus a display value (``amount``); values are in the valuation unit
named by ``value_unit``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "exposure.report/1"


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
        """JSON form."""
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
class Rating:
    """The rating under a policy, with the rules that fired."""

    level: str
    policy: str
    reasons: tuple[str, ...] = ()


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

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "schema": SCHEMA,
            "address": self.address,
            "chain": self.chain,
            "screened_at": self.screened_at,
            "max_hops": self.max_hops,
            "value_unit": self.value_unit,
            "labels": list(self.labels),
            "activity": asdict(self.activity),
            "exposures": [e.to_dict() for e in self.exposures],
            "rating": asdict(self.rating),
            "stop_nodes": [asdict(s) for s in self.stop_nodes],
            "data_state": self.data_state,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)
