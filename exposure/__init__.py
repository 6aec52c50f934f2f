"""exposure: how close a declared wallet address sits to mainland-serving exchanges and RWA issuers.

The public Python API (the CLI and the notebooks use only this):

- :func:`exposure.store.connect` opens (and migrates) the DuckDB store;
- :func:`exposure.indexers.evm.index_evm` indexes ETH and ERC-20 transfers from a JSON-RPC node.
"""

__version__ = "0.1.0"
