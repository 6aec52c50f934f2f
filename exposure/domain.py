"""Domain values: small frozen dataclasses shared by every layer. Imports nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Token:
    """A tracked token contract on one chain. ``address`` is lowercase 0x-hex."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True)
class ChainSpec:
    """An EVM chain the indexer can serve: its expected chain id and its tracked tokens.

    ``chain_id`` None means "any": a local or private chain whose id is not checked.
    """

    name: str
    chain_id: int | None
    native_symbol: str = "ETH"
    native_decimals: int = 18
    tokens: tuple[Token, ...] = field(default_factory=tuple)

    def token(self, symbol: str) -> Token | None:
        """The tracked token with this symbol (case-insensitive), or None."""
        wanted = symbol.upper()
        return next((t for t in self.tokens if t.symbol.upper() == wanted), None)


@dataclass(frozen=True)
class IndexProgress:
    """What an indexer reports after each committed batch (the CLI draws it as a progress bar)."""

    chain: str
    first_block: int
    last_block: int
    committed_block: int
    blocks_done: int
    token_transfers: int
    native_transfers: int
    message: str | None = None


@dataclass(frozen=True)
class IndexResult:
    """The outcome of one indexer run."""

    chain: str
    from_block: int
    to_block: int
    blocks: int
    token_transfers: int
    native_transfers: int
    tracing: str
    reorgs: int
    seconds: float
    up_to_date: bool = False
