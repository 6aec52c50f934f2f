"""Domain values: small frozen dataclasses shared by every layer. Imports nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Token:
    """A tracked token contract on one chain. ``address`` is lowercase 0x-hex on EVM chains,
    ``T...`` (base58check, case-sensitive) on TRON."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True)
class ChainSpec:
    """A chain an indexer can serve (EVM chains, and TRON with ``chain_id`` None): its expected
    chain id, native coin and tracked tokens.

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


@dataclass(frozen=True)
class Actor:
    """A real-world entity across chains (an exchange, an RWA issuer), from an ActorPack.

    ``serves_mainland`` is ``yes``, ``reported``, ``no`` or ``unknown``; ``rwa`` is ``issuer``
    or None; ``stablecoin`` is ``issuer`` or None. ``evidence``/``as_of`` back the attributes,
    ``grade`` says how strong the evidence is; ``licence`` names a licence such as ``hk_sfc``.
    """

    id: str
    label: str
    uri: str | None
    categories: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    serves_mainland: str = "unknown"
    rwa: str | None = None
    stablecoin: str | None = None
    evidence: str | None = None
    as_of: str | None = None
    grade: str | None = None
    licence: str | None = None
    context: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Tag:
    """An attribution of one address (or token contract) on one chain, from a pack.

    ``chain`` uses the project's chain names (``ethereum``, ``bitcoin``, ``tron``, ...);
    ``address`` is normalised (EVM lowercase). ``confidence_level`` is GraphSense's 0-100 scale.
    ``serves_mainland``/``rwa``/``stablecoin`` are the tag's own overrides of its actor's.
    """

    chain: str
    address: str
    label: str
    source: str
    confidence: str
    confidence_level: int
    category: str | None = None
    concepts: tuple[str, ...] = ()
    actor: str | None = None
    lastmod: str | None = None
    serves_mainland: str | None = None
    rwa: str | None = None
    stablecoin: str | None = None
    context: str | None = None
    line: int = 0


@dataclass(frozen=True)
class LabelPack:
    """One loaded pack: its identity, provenance and content."""

    name: str
    path: str
    kind: str
    title: str
    creator: str
    sha256: str
    lastmod: str | None
    is_demo: bool
    tags: tuple[Tag, ...] = ()
    actors: tuple[Actor, ...] = ()


@dataclass(frozen=True)
class PackProblem:
    """One thing wrong in a pack, reported as ``path:line: field: problem``."""

    path: str
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.problem}"
