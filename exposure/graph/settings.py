"""Edge filters and valuation: which transfers make an edge, and what they are worth.

Defaults (documented in the README):
- tracked assets only (the store's ``assets`` table plus the native coin): a transfer of an
  untracked token contract, such as a counterfeit "USDT", never makes an edge;
- zero-value transfers never make an edge;
- dust: a transfer below ``dust_usd`` (default 1 US dollar) at the asset's reference price is
  dust (so 0.000001 USDT is dust, 700 USDT and 1 ETH are not); per-asset overrides in units;
- valuation: reference prices in US dollars per unit (stablecoins 1, ETH 3,000, BTC 90,000,
  TRX 0.25, anything else 1), used only to weigh value shares and to set dust thresholds;
- an unlabelled node with more than ``degree_cap`` distinct counterparties is a stop node.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field

DEFAULT_PRICES = {"USDT": 1.0, "USDC": 1.0, "ETH": 3000.0, "BTC": 90000.0, "BNB": 600.0,
                  "POL": 0.5, "TRX": 0.25}
DEFAULT_PRICE = 1.0


def _is_date(value: str) -> bool:
    """Whether ``value`` is a calendar date alone (``YYYY-MM-DD`` or ``YYYYMMDD``), no time."""
    try:
        dt.date.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class GraphSettings:
    """How transfers become edges. Frozen: its digest keys the graph cache."""

    dust_usd: float = 1.0
    dust_units: tuple[tuple[str, float], ...] = ()
    prices: tuple[tuple[str, float], ...] = field(
        default_factory=lambda: tuple(sorted(DEFAULT_PRICES.items()))
    )
    start: str | None = None
    end: str | None = None
    degree_cap: int = 1000
    #: Walk over Bitcoin address clusters (common-input ownership) instead of addresses.
    entities: bool = False

    def price(self, asset: str) -> float:
        """Reference USD price of one unit of ``asset``."""
        return dict(self.prices).get(asset.upper(), DEFAULT_PRICE)

    def dust(self, asset: str) -> float:
        """The dust threshold of ``asset`` in its own units (transfers below it make no edge)."""
        units = dict(self.dust_units)
        if asset.upper() in units:
            return units[asset.upper()]
        return self.dust_usd / self.price(asset)

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The time window as UTC datetimes, both ends included (None = open). An end given as
        a date alone (``2024-01-31``) includes that whole day: it is that day's last instant."""

        def parse(value: str | None, *, end: bool = False) -> dt.datetime | None:
            if not value:
                return None
            parsed = dt.datetime.fromisoformat(value)
            if end and _is_date(value):
                parsed = parsed.replace(hour=23, minute=59, second=59, microsecond=999_999)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

        return parse(self.start), parse(self.end, end=True)

    def describe(self) -> dict:
        """The settings as plain data, for reports' data state."""
        return asdict(self)

    def digest(self) -> str:
        """A short stable digest of the settings."""
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()[:16]
