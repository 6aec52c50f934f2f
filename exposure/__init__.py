"""exposure: how close a declared wallet address sits to mainland-serving exchanges and RWA issuers.

The public Python API (the CLI and the notebooks use only this):

- :func:`exposure.screen` screens one address and returns a :class:`exposure.report.Report`;
- :func:`exposure.store.connect` opens (and migrates) the DuckDB store;
- :func:`exposure.indexers.evm.index_evm` indexes ETH and ERC-20 transfers from a JSON-RPC node;
- :func:`exposure.labels.catalog.import_labels` imports label packs and dumps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report.model import Report

__version__ = "0.1.0"


def screen(address: str, **options: Any) -> Report:
    """Screen one address; see :func:`exposure.screening.screen` for the options."""
    from .screening import screen as _screen

    return _screen(address, **options)
