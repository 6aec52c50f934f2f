"""The command line: wiring only. Every error becomes one line on stderr and an exit code.

Exit codes: 0 ok, 1 unexpected, 2 bad input or usage, 4 store, 5 node/RPC, 6 data, 130 interrupted.
``--debug`` shows tracebacks.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__
from .addresses import normalize_evm
from .chains import CHAINS, chain_spec
from .config import db_path, redact_url
from .domain import ChainSpec, IndexProgress, Token
from .errors import ExposureError, InputError

app = typer.Typer(
    name="exposure",
    help=(
        "How close a declared wallet address sits to exchanges serving mainland-China residents "
        "and to RWA token issuers, with the on-chain evidence. Data lives in one DuckDB file "
        "(--db, else $EXPOSURE_DB, else ./exposure.duckdb); --db goes before the command or "
        "after it."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
index_app = typer.Typer(help="Pull transfers from a node into the store.", no_args_is_help=True)
labels_app = typer.Typer(
    help="Attribution: GraphSense TagPacks/ActorPacks, explorer label dumps, OFAC lists.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Inspect the store.", no_args_is_help=True)
import_app = typer.Typer(
    help="Load history from the ecosystem's dumps (cryo, ethereum-etl, bitcoin-etl, exposure).",
    no_args_is_help=True,
)
export_app = typer.Typer(help="Write the store's data to files.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(labels_app, name="labels")
app.add_typer(db_app, name="db")

_state = {"debug": False}
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="DuckDB file (default $EXPOSURE_DB, else ./exposure.duckdb)."),
]


def _version(value: bool) -> None:
    if value:
        out.print(f"exposure {__version__}")
        raise typer.Exit()


def _db_defaults(group, db: str) -> dict:
    """A click ``default_map`` giving every command under ``group`` that takes ``--db`` the
    value given before the command (``demo`` excepted: its --db is a file it recreates)."""
    defaults: dict = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's click Group)
            defaults[name] = _db_defaults(command, db)
        elif name != "demo" and any(p.name == "db" for p in command.params):
            defaults[name] = {"db": db}
    return defaults


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="DuckDB file for the command that follows (default "
                     "$EXPOSURE_DB, else ./exposure.duckdb); the command's own --db wins."),
    ] = None,
) -> None:
    _state["debug"] = debug
    if db is not None and hasattr(ctx.command, "commands"):
        ctx.default_map = {**(ctx.default_map or {}), **_db_defaults(ctx.command, db)}


def _quiet() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or not err.is_terminal


def parse_tokens(
    spec: ChainSpec,
    tokens: str | None,
    extra: list[str],
    normalise: Callable[[str], str] = normalize_evm,
    form: str = "0xADDRESS",
) -> tuple[Token, ...]:
    """Tracked tokens from ``--tokens usdt,usdc`` (the chain's own) and ``--token SYM=0x..[:DEC]``
    (``normalise`` validates the address, ``form`` names it in messages).

    A custom token without decimals gets ``decimals = -1``: the indexer reads ``decimals()``.
    """
    chosen: list[Token] = []
    if tokens is None:
        chosen.extend(spec.tokens)
    else:
        for symbol in filter(None, (s.strip() for s in tokens.split(","))):
            if symbol.lower() == "none":
                continue
            token = spec.token(symbol)
            if token is None:
                known = ", ".join(t.symbol.lower() for t in spec.tokens) or "none"
                raise InputError(
                    f"unknown token {symbol!r} on {spec.name} (known: {known}); add a contract "
                    f"with --token SYMBOL={form}[:DECIMALS]"
                )
            chosen.append(token)
    for item in extra:
        symbol, sep, rest = item.partition("=")
        if not sep or not symbol.strip():
            raise InputError(f"--token {item!r}: expected SYMBOL={form}[:DECIMALS]")
        address, _, decimals = rest.partition(":")
        try:
            places = int(decimals) if decimals else -1
        except ValueError:
            raise InputError(f"--token {item!r}: decimals must be an integer") from None
        if decimals and not 0 <= places <= 77:
            raise InputError(f"--token {item!r}: decimals must be between 0 and 77")
        chosen.append(Token(symbol.strip().upper(), normalise(address), places))
    seen: dict[str, Token] = {}
    for token in chosen:
        seen.setdefault(token.address, token)
    return tuple(seen.values())


def _parse_to_block(value: str | None) -> int | None:
    if value is None or value.strip().lower() in ("latest", "head", ""):
        return None
    try:
        number = int(value, 0)
    except ValueError:
        raise InputError(f"--to-block must be a block number or 'latest', got {value!r}") from None
    if number < 0:
        raise InputError(f"--to-block must be >= 0, got {value!r}")
    return number


def _block_progress(
    stack: ExitStack, name: str
) -> tuple[Progress, Callable[[IndexProgress], None]]:
    """A progress bar of committed blocks with blocks/s and transfers/s (quiet in CI), and the
    callback the indexers report to."""
    progress = stack.enter_context(
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=err,
            disable=_quiet(),
            transient=False,
        )
    )
    task = progress.add_task(f"{name} blocks", total=None, rate="")

    def on_progress(p: IndexProgress) -> None:
        if p.message:
            progress.console.print(f"{name}: {p.message}", markup=False)
        elapsed = progress.tasks[task].elapsed or 1e-9
        progress.update(
            task,
            total=max(0, p.last_block - p.first_block + 1),
            completed=max(0, p.committed_block - p.first_block + 1),
            rate=f"{p.blocks_done / elapsed:,.0f} blocks/s "
            f"{(p.token_transfers + p.native_transfers) / elapsed:,.0f} transfers/s",
        )

    return progress, on_progress


@index_app.command("evm")
def index_evm_command(
    rpc: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            help="JSON-RPC URL of an Ethereum-compatible node (credentials are never shown). "
            "Default $EXPOSURE_RPC.",
        ),
    ] = None,
    chain: Annotated[
        str,
        typer.Option(
            help=f"Chain name: built-in ({', '.join(CHAINS)}) checks the node's chain id and "
            "knows its USDT/USDC; any other name is a local/private chain."
        ),
    ] = "ethereum",
    from_block: Annotated[
        int | None, typer.Option(help="First block (default: after the checkpoint, or 0).")
    ] = None,
    to_block: Annotated[
        str | None, typer.Option(help="Last block, or 'latest' (head minus confirmations).")
    ] = None,
    tokens: Annotated[
        str | None,
        typer.Option(help="The chain's tokens to track, e.g. usdt,usdc (default all; 'none')."),
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            help="Extra token SYMBOL=0xADDRESS[:DECIMALS] (repeatable; decimals read from the "
            "contract when omitted).",
        ),
    ] = None,
    confirmations: Annotated[
        int, typer.Option(min=0, help="Stay this many blocks behind the head (reorg safety).")
    ] = 12,
    native: Annotated[
        bool, typer.Option("--native/--no-native", help="Index ETH value transfers too.")
    ] = True,
    batch_blocks: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most blocks per committed batch (default 200 with ETH transfers, 5000 for "
            "tokens only). Smaller batches lose less work to a crash.",
        ),
    ] = None,
    devchain: Annotated[
        bool,
        typer.Option(
            "--devchain",
            help="Start a local anvil node, play the built-in scenario of USDT/USDC/ETH "
            "transfers on it, index it (no network needed), and stop the node.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Index ETH and ERC-20 (USDT/USDC) transfers from a JSON-RPC node into the store.

    Resumable and idempotent: a rerun continues after the last committed block, re-indexing a
    range replaces it, and a reorganisation is rolled back to the common ancestor.
    """
    from .indexers.evm import IndexSettings, index_evm, resolve_token_decimals
    from .indexers.rpc import RpcClient
    from .store import connect

    stop = _parse_to_block(to_block)
    with ExitStack() as stack:
        if devchain:
            from .devchain import Anvil, seed_scenario

            node = stack.enter_context(Anvil())
            dev = stack.enter_context(node.chain())
            scenario = seed_scenario(dev)
            rpc = node.url
            chain = "devchain" if chain == "ethereum" else chain
            confirmations = 0
            extra = [f"USDT={scenario.usdt}:6", f"USDC={scenario.usdc}:6"]
            token = [*extra, *(token or [])]
            tokens = tokens or "none"
            err.print(f"started anvil at {node.url} and played the devchain scenario")
        rpc = rpc or os.environ.get("EXPOSURE_RPC")
        if not rpc:
            raise InputError("no node given: pass --rpc URL (or set EXPOSURE_RPC, or --devchain)")
        spec = chain_spec(chain)
        tracked = parse_tokens(spec, tokens, token or [])
        client = RpcClient(rpc)
        tracked = tuple(
            resolve_token_decimals(client, spec.name, t.symbol, t.address) if t.decimals < 0 else t
            for t in tracked
        )
        con = connect(db)
        stack.callback(con.close)
        settings = IndexSettings(confirmations=confirmations, native=native)
        if batch_blocks:
            settings.max_native_blocks = settings.max_header_blocks = batch_blocks
        progress, on_progress = _block_progress(stack, spec.name)

        result = index_evm(
            con,
            client,
            chain=spec,
            tokens=tracked,
            from_block=from_block,
            to_block=stop,
            settings=settings,
            on_progress=on_progress,
        )
        progress.stop()
        if result.up_to_date:
            out.print(
                f"{result.chain}: up to date (nothing to index up to block {result.to_block}) "
                f"in {db_path(db)}"
            )
        else:
            out.print(
                f"{result.chain}: indexed blocks {result.from_block}-{result.to_block} from "
                f"{redact_url(rpc)}: {result.token_transfers:,} token and "
                f"{result.native_transfers:,} native transfers in {result.seconds:.1f} s "
                f"(tracing: {result.tracing}, reorgs: {result.reorgs}) into {db_path(db)}"
            )


@index_app.command("tron")
def index_tron_command(
    rpc: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            help="java-tron FullNode HTTP API, e.g. http://127.0.0.1:8090, or a provider serving "
            "the same /wallet/... paths (credentials in the URL are never shown). Default "
            "$EXPOSURE_TRON_RPC.",
        ),
    ] = None,
    from_block: Annotated[
        int | None, typer.Option(help="First block (default: after the checkpoint, or 0).")
    ] = None,
    to_block: Annotated[
        str | None, typer.Option(help="Last block, or 'latest' (head minus confirmations).")
    ] = None,
    confirmations: Annotated[
        int,
        typer.Option(
            min=0, help="Stay this many blocks behind the head (default 19: what java-tron's "
            "solidity node treats as final)."
        ),
    ] = 19,
    tokens: Annotated[
        str | None,
        typer.Option(help="TRC-20 tokens to track: usdt,usdc (default both; 'none')."),
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            help="Extra TRC-20 token SYMBOL=T...[:DECIMALS] (repeatable; decimals read from the "
            "contract when omitted).",
        ),
    ] = None,
    native: Annotated[
        bool, typer.Option("--native/--no-native", help="Index TRX transfers too.")
    ] = True,
    batch_blocks: Annotated[
        int,
        typer.Option(
            min=1, help="Most blocks per committed batch. Smaller batches lose less work to a "
            "crash."
        ),
    ] = 100,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Sent as the TRON-PRO-API-KEY header (TronGrid); default $TRON_PRO_API_KEY. "
            "Never shown or stored.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Index TRX and TRC-20 (USDT/USDC) transfers from a java-tron HTTP API into the store.

    Only successful transactions move value: TransferContract amounts, the call value of
    contract calls, internal transactions that were not rejected, and Transfer logs of the
    tracked tokens. Resumable and idempotent; a reorganisation is rolled back to the common
    ancestor.
    """
    from .addresses import normalize_tron
    from .indexers.tron import TRON, TronHttpClient, TronSettings, index_tron
    from .indexers.tron import resolve_token_decimals as tron_decimals
    from .store import connect

    stop = _parse_to_block(to_block)
    rpc = rpc or os.environ.get("EXPOSURE_TRON_RPC")
    if not rpc:
        raise InputError("no node given: pass --rpc URL (or set EXPOSURE_TRON_RPC)")
    key = api_key or os.environ.get("TRON_PRO_API_KEY") or None
    tracked = parse_tokens(TRON, tokens, token or [], normalize_tron, "T...")
    client = TronHttpClient(rpc, api_key=key)
    tracked = tuple(
        tron_decimals(client, t.symbol, t.address) if t.decimals < 0 else t for t in tracked
    )
    with ExitStack() as stack:
        stack.callback(client.close)
        con = connect(db)
        stack.callback(con.close)
        settings = TronSettings(
            confirmations=confirmations, native=native, batch_blocks=batch_blocks
        )
        progress, on_progress = _block_progress(stack, "tron")
        result = index_tron(
            con,
            client,
            tokens=tracked,
            from_block=from_block,
            to_block=stop,
            settings=settings,
            on_progress=on_progress,
        )
        progress.stop()
        if result.up_to_date:
            out.print(
                f"tron: up to date (nothing to index up to block {result.to_block}) "
                f"in {db_path(db)}"
            )
        else:
            out.print(
                f"tron: indexed blocks {result.from_block}-{result.to_block} from "
                f"{client.safe_url}: {result.token_transfers:,} token and "
                f"{result.native_transfers:,} TRX transfers in {result.seconds:.1f} s "
                f"(reorgs: {result.reorgs}) into {db_path(db)}"
            )


@index_app.command("btc")
def index_btc_command(
    rpc: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            help="JSON-RPC URL of a Bitcoin Core or bcoin node, e.g. http://user:pass@host:8332/ "
            "(credentials are never shown). Default $EXPOSURE_BTC_RPC. With --blocks-dir it "
            "only resolves prevouts (getrawtransaction).",
        ),
    ] = None,
    chain: Annotated[
        str | None,
        typer.Option(
            help="Chain name in the store (default 'bitcoin' on mainnet, "
            "'bitcoin-<network>' otherwise)."
        ),
    ] = None,
    network: Annotated[
        str,
        typer.Option(
            help="bitcoin, testnet, testnet4, signet or regtest: checked against the node's "
            "genesis block; addresses are encoded for it."
        ),
    ] = "bitcoin",
    from_height: Annotated[
        int | None, typer.Option(help="First height (default: after the checkpoint, or 0).")
    ] = None,
    to_height: Annotated[
        str | None, typer.Option(help="Last height, or 'tip' (head minus confirmations).")
    ] = None,
    confirmations: Annotated[
        int, typer.Option(min=0, help="Stay this many blocks behind the head (reorg safety).")
    ] = 6,
    blocks_dir: Annotated[
        Path | None,
        typer.Option(
            "--blocks-dir",
            help="Read Bitcoin Core's blk*.dat files in this folder instead of asking a node "
            "(bulk history).",
        ),
    ] = None,
    batch_blocks: Annotated[
        int | None,
        typer.Option(min=1, help="Most blocks per committed batch (default 500)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Index Bitcoin blocks, transactions, outputs, inputs and BTC transfers into the store.

    Raw blocks are parsed by exposure, so Bitcoin Core and bcoin give the same rows. Inputs
    spending outputs outside the indexed range are resolved with getrawtransaction when the
    node has a transaction index, else counted as unresolved. Resumable and idempotent; a
    reorganisation is rolled back to the common ancestor.
    """
    from .indexers.bitcoin.indexer import BtcIndexSettings, btc_chain_name, index_btc
    from .indexers.rpc import RpcClient
    from .store import connect

    stop: int | None = None
    if to_height is not None and to_height.strip().lower() not in ("tip", "latest", "head", ""):
        try:
            stop = int(to_height, 0)
        except ValueError:
            raise InputError(
                f"--to-height must be a height or 'tip', got {to_height!r}"
            ) from None
        if stop < 0:
            raise InputError(f"--to-height must be >= 0, got {to_height!r}")
    rpc = rpc or os.environ.get("EXPOSURE_BTC_RPC")
    if not rpc and blocks_dir is None:
        raise InputError(
            "no source given: pass --rpc URL (or set EXPOSURE_BTC_RPC) or --blocks-dir PATH"
        )
    if blocks_dir is not None and not blocks_dir.is_dir():
        raise InputError(f"--blocks-dir {blocks_dir} is not a folder")
    name = btc_chain_name(chain, network)
    settings = BtcIndexSettings(confirmations=confirmations)
    if batch_blocks:
        settings.max_blocks = batch_blocks
    with ExitStack() as stack:
        con = connect(db)
        stack.callback(con.close)
        progress, on_progress = _block_progress(stack, name)

        result = index_btc(
            con,
            RpcClient(rpc) if rpc else None,
            chain=name,
            network=network,
            from_height=from_height,
            to_height=stop,
            blocks_dir=blocks_dir,
            settings=settings,
            on_progress=on_progress,
        )
        progress.stop()
        source = str(blocks_dir) if blocks_dir is not None else redact_url(rpc or "")
        if result.up_to_date:
            out.print(
                f"{result.chain}: up to date (nothing to index up to block {result.to_block}) "
                f"in {db_path(db)}",
                markup=False,
            )
        else:
            unresolved = (
                f", {result.unresolved_inputs:,} inputs unresolved (no transaction index)"
                if result.unresolved_inputs
                else ""
            )
            out.print(
                f"{result.chain}: indexed blocks {result.from_block}-{result.to_block} from "
                f"{source}: {result.transactions:,} transactions, {result.transfers:,} transfers, "
                f"{result.prevouts_fetched:,} prevouts fetched{unresolved} in "
                f"{result.seconds:.1f} s (reorgs: {result.reorgs}) into {db_path(db)}",
                markup=False,
            )
        if not result.up_to_date:
            from .graph.clusters import compute_clusters
            from .labels.mining import derive_mining_labels

            counts = compute_clusters(con, name)
            payouts = derive_mining_labels(con, name)
            out.print(
                f"{name}: {counts['clusters']:,} clusters of {counts['addresses']:,} addresses "
                f"({counts['coinjoins']:,} CoinJoin-shaped transactions not linked, "
                f"{counts['refused']:,} merges refused); {payouts:,} mining payout addresses",
                markup=False,
            )


def _guess_chain(address: str) -> str:
    from .addresses import looks_tron

    text = address.strip()
    if looks_tron(text):
        return "tron"
    if text.lower().startswith("0x"):
        return "ethereum"
    return "bitcoin"


@labels_app.command("import")
def labels_import(
    paths: Annotated[
        list[Path],
        typer.Argument(help="TagPack/ActorPack YAML files, label dumps, or folders of them."),
    ],
    lenient: Annotated[
        bool,
        typer.Option(
            help="Drop tags whose address is invalid for its network (reported, as GraphSense's "
            "validator warns) instead of refusing the whole file."
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Import label packs. Re-importing a pack replaces its previous version.

    Reads GraphSense TagPacks and ActorPacks, etherscan-style label dumps (etherscan-labels and
    eth-labels layouts, confidence web_crawl) and OFAC SDN address lists. A file with any
    problem imports nothing; every problem is listed as path:line: field: problem.
    """
    from .labels.catalog import ensure_shipped, import_labels
    from .store import connect

    con = connect(db)
    try:
        ensure_shipped(con)
        report = import_labels(con, paths, lenient=lenient)
    finally:
        con.close()
    for problem in report.problems[:50]:
        err.print(str(problem), markup=False)
    if len(report.problems) > 50:
        err.print(f"... and {len(report.problems) - 50} more problems")
    out.print(
        f"imported {len(report.packs)} pack(s): {report.tags:,} tags, "
        f"{sum(p.actors for p in report.packs):,} actors into {db_path(db)}"
        + (f"; {len(report.failed_files)} file(s) refused" if report.failed_files else "")
        + (
            f"; {len(report.problems)} tag(s) dropped"
            if lenient and report.problems and not report.failed_files
            else ""
        )
    )
    if report.failed_files:
        raise typer.Exit(2)


@labels_app.command("list")
def labels_list(
    category: Annotated[
        str | None, typer.Option(help="Screening category, e.g. mainland_exchange, rwa.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Actor id, e.g. binance.")] = None,
    chain: Annotated[str | None, typer.Option(help="Chain, e.g. ethereum, bitcoin, tron.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most rows to show.")] = 50,
    db: DbOption = None,
) -> None:
    """List labelled addresses by screening category and actor (shipped packs included)."""
    from .addresses import EVM_CHAINS, checksum
    from .labels.catalog import address_category_rows, ensure_shipped
    from .store import connect

    con = connect(db)
    try:
        ensure_shipped(con)
        rows = address_category_rows(
            con, category=category, actor=actor and actor.lower(), chain=chain, limit=limit
        )
    finally:
        con.close()
    if not rows:
        out.print("no labelled addresses match")
        return
    for ch, address, cat, act, label, confidence, pack in rows:
        shown = checksum(address) if ch in EVM_CHAINS else address
        out.print(
            f"{cat:<20} {act or '-':<18} {ch:<9} {shown}  {label}  [{confidence}; {pack}]",
            markup=False,
        )


@labels_app.command("show")
def labels_show(
    address: Annotated[str, typer.Argument(help="An address (EVM, Bitcoin or Tron).")],
    chain: Annotated[str | None, typer.Option(help="Chain (default: from the address).")] = None,
    db: DbOption = None,
) -> None:
    """Show every label on an address, best first, with its categories and provenance."""
    from .addresses import EVM_CHAINS, checksum, normalize
    from .labels.catalog import ensure_shipped, labels_of
    from .store import connect

    chosen = chain or _guess_chain(address)
    normal = normalize(chosen, address)
    con = connect(db)
    try:
        ensure_shipped(con)
        found = labels_of(con, normal, chosen)
    finally:
        con.close()
    shown = checksum(normal) if chosen in EVM_CHAINS else normal
    if not found:
        out.print(f"{shown} ({chosen}): no label")
        return
    out.print(f"{shown} ({chosen})")
    for item in found:
        mark = "*" if item.is_best else " "
        cats = ", ".join(item.categories) or "no screening category"
        out.print(
            f" {mark} {item.label} — actor {item.actor or '-'}; {cats}; confidence "
            f"{item.confidence} ({item.confidence_level}); pack {item.pack!r}; source "
            f"{item.source}" + (f"; lastmod {item.lastmod}" if item.lastmod else ""),
            markup=False,
        )
        if item.serves_mainland and item.serves_mainland != "unknown":
            out.print(
                f"   serves mainland residents: {item.serves_mainland}"
                + (f" (evidence: {item.evidence})" if item.evidence else ""),
                markup=False,
            )


def _settings(degree_cap: int | None, dust_usd: float | None, since: str | None,
              until: str | None):
    from .graph.settings import GraphSettings

    base = GraphSettings()
    for name, value in (("since", since), ("until", until)):
        if value:
            import datetime as dt

            try:
                dt.datetime.fromisoformat(value)
            except ValueError:
                raise InputError(f"--{name} must be an ISO date, got {value!r}") from None
    return GraphSettings(
        dust_usd=base.dust_usd if dust_usd is None else dust_usd,
        prices=base.prices,
        start=since,
        end=until,
        degree_cap=base.degree_cap if degree_cap is None else degree_cap,
    )


FormatOption = Annotated[
    str, typer.Option("--format", help="text, json, markdown, html or pdf (A4, printed by "
                      "Chromium; needs --out FILE.pdf or a pipe).")
]
LangOption = Annotated[
    str, typer.Option("--lang", help="en, or zh / zh-CN (Simplified Chinese).")
]


@app.command("screen")
def screen_command(
    address: Annotated[str, typer.Argument(help="The declared address (EVM or Bitcoin).")],
    chain: Annotated[
        str, typer.Option(help="auto (from the address), ethereum, bitcoin, or an indexed chain.")
    ] = "auto",
    direction: Annotated[
        str, typer.Option(help="in (source of funds), out (destination), or both.")
    ] = "both",
    max_hops: Annotated[int, typer.Option(min=1, max=32, help="Walk at most this far.")] = 6,
    fmt: FormatOption = "text",
    lang: LangOption = "en",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the report to this file.")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Rating policy YAML (default: the shipped one).")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(help="Exit with code 3 when the rating reaches this level (e.g. high)."),
    ] = None,
    degree_cap: Annotated[
        int | None,
        typer.Option(min=1, help="Unlabelled nodes with more counterparties are not traversed "
                     "(default 1000)."),
    ] = None,
    dust_usd: Annotated[
        float | None, typer.Option(min=0, help="Transfers worth less are dust (default 1 USD).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only transfers from this date (ISO).")] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only transfers up to this date or time (ISO); a date alone includes "
                     "that whole day."),
    ] = None,
    entities: Annotated[
        bool | None,
        typer.Option(
            "--entities/--addresses",
            help="Bitcoin: walk over address clusters (common-input ownership; the default) "
            "or over plain addresses.",
        ),
    ] = None,
    graph: Annotated[
        Path | None,
        typer.Option("--graph", help="Also write the evidence graph as a picture for the case "
                     "file: FILE.svg, or FILE.png (needs rsvg-convert: Debian librsvg2-bin)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Screen one address: hops to mainland-serving exchanges, RWA issuers and other categories,
    in each direction, with the evidence path, value shares and a rating.

    Exit codes: 0 screened, 1 the --graph picture could not be written, 2 malformed address
    or option, 3 rating reached --fail-on.
    """
    from .policy import load_policy
    from .report.render import check_lang
    from .screening import Screener, ScreenOptions, open_store

    if fmt not in ("text", "json", "markdown", "html", "pdf"):
        raise InputError(f"--format must be text, json, markdown, html or pdf, got {fmt!r}")
    lang = check_lang(lang)
    if fmt == "pdf":
        from .report.pdf import check_pdf

        if out_file is None and sys.stdout.isatty():
            raise InputError("--format pdf writes a file: give --out FILE.pdf (or pipe stdout)")
        check_pdf()  # before the work: no Chromium fails now
    if graph is not None:
        from .explore import check_picture_path  # plotting stack only when a picture is asked

        check_picture_path(graph)  # before the work: a PNG without a converter fails now
    rules = load_policy(policy)
    if fail_on is not None:
        rules.rank(fail_on)
    options = ScreenOptions(
        direction=direction, max_hops=max_hops,
        settings=_settings(degree_cap, dust_usd, since, until), entities=entities,
    )
    options.directions()
    con = open_store(db)
    try:
        report = Screener(con, options=options, policy=rules).screen(address, chain=chain)
    finally:
        con.close()
    _write_report(report, fmt, lang, out_file)
    if graph is not None:
        from .explore import save_graph

        save_graph(report, graph, lang=lang)
        err.print(f"evidence graph written to {graph}")
    if fail_on is not None and rules.rank(report.rating.level) >= rules.rank(fail_on):
        raise typer.Exit(3)


def _write_report(report, fmt: str, lang: str, out_file: Path | None) -> None:
    """The report in ``fmt`` to ``out_file`` or stdout (PDF as bytes)."""
    if fmt == "pdf":
        from .report.pdf import render_pdf

        data = render_pdf(report, lang)
    else:
        from .report.render import render

        # the text report fits the terminal (COLUMNS, else 110 columns when not a terminal)
        width = max(80, shutil.get_terminal_size((110, 24)).columns)
        text = render(report, fmt, lang, width=width)
        data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    if out_file is not None:
        out_file.write_bytes(data)
        err.print(f"report written to {out_file}")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@app.command("batch")
def batch_command(
    book: Annotated[Path, typer.Argument(help="CSV of declared addresses (UTF-8 or GBK).")],
    address_column: Annotated[
        str | None, typer.Option(help="Column holding the address (default: detected).")
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="results.csv, .parquet or .json (default: CSV on stdout)."),
    ] = None,
    chain: Annotated[str, typer.Option(help="auto, ethereum, bitcoin or an indexed chain.")] = (
        "auto"
    ),
    max_hops: Annotated[int, typer.Option(min=1, max=32, help="Walk at most this far.")] = 6,
    shares: Annotated[
        bool, typer.Option("--shares/--no-shares", help="Also compute value shares.")
    ] = True,
    policy: Annotated[Path | None, typer.Option(help="Rating policy YAML.")] = None,
    degree_cap: Annotated[int | None, typer.Option(min=1, help="Stop-node degree cap.")] = None,
    db: DbOption = None,
) -> None:
    """Screen every address of a customer book: one row per address with hops and shares per
    category and direction, and the rating. Invalid rows are reported with their line."""
    from .batch import read_book, screen_book, write_results
    from .policy import load_policy
    from .screening import ScreenOptions, open_store

    rows = read_book(book, address_column)
    options = ScreenOptions(
        max_hops=max_hops, with_shares=shares, settings=_settings(degree_cap, None, None, None)
    )
    con = open_store(db)
    try:
        with Progress(
            TextColumn("[bold]screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, disable=_quiet(),
        ) as progress:
            task = progress.add_task("book", total=len(rows))
            results = screen_book(
                con, rows, chain=chain, options=options, policy=load_policy(policy),
                on_progress=lambda n: progress.update(task, completed=n),
            )
    finally:
        con.close()
    bad = [r for r in results if r["status"] == "invalid"]
    for r in bad[:50]:
        err.print(f"{book}:{r['line']}: {r['error']}", markup=False)
    write_results(results, out_file)
    counts = {}
    for r in results:
        counts[r["rating"] or r["status"]] = counts.get(r["rating"] or r["status"], 0) + 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    err.print(f"screened {len(results) - len(bad)} of {len(results)} rows ({summary})"
              + (f"; results in {out_file}" if out_file else ""))


@app.command("demo")
def demo_command(
    db: Annotated[
        Path, typer.Option("--db", help="The demo's database (recreated).")
    ] = Path("exposure-demo.duckdb"),
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the HTML reports go.")
    ] = Path("demo-reports"),
    lang: LangOption = "en",
) -> None:
    """Run the whole product on a local chain, offline: start anvil, play a scripted story of
    customers, mule chains, an exchange, an RWA issuer and poisoning transfers, index it, load
    the demo labels, screen the customers and write their reports. Needs `npm ci` (anvil)."""
    from .demo import run_demo
    from .report.i18n import category_name, level_name
    from .report.render import check_lang, render

    lang = check_lang(lang)
    result = run_demo(db, out_dir, lang=lang, on_step=lambda m: err.print(f"demo: {m}"))
    name, _, first, _ = result.reports[1]
    sys.stdout.write(render(first, "text", lang))
    out.print()
    for name, story, report, path in result.reports:
        found = report.found()
        nearest = (
            f"{category_name(found[0].category, lang)} {found[0].direction} "
            f"{found[0].hops} hop(s)" if found else "-"
        )
        out.print(f"{name:<4} {level_name(report.rating.level, lang):<8} {nearest:<55} {story}",
                  markup=False)
        out.print(f"     {path}", markup=False)
    out.print(
        f"database: {result.db} ({result.transfers} transfers in {result.blocks} blocks); "
        f"reports: {result.out_dir}/; {result.seconds:.0f} s"
    )


@import_app.command("transfers")
def import_transfers_command(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, folders (searched recursively) or glob patterns.",
                       show_default=False),
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="cryo (erc20_transfers, traces, transactions, blocks; Parquet), ethereum-etl "
            "(token_transfers, transactions + receipts or traces, blocks; CSV or JSON lines; "
            "BigQuery crypto_ethereum exports too), bitcoin-etl (blocks and transactions JSON), "
            "exposure (a folder from `exposure export transfers`).",
        ),
    ],
    chain: Annotated[
        str | None,
        typer.Option("--chain", help="Chain name (default ethereum; bitcoin for bitcoin-etl)."),
    ] = None,
    network: Annotated[
        str | None,
        typer.Option("--network", help="bitcoin-etl only: bitcoin, testnet, signet, regtest."),
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option("--token", help="Also keep this token: SYMBOL=0xADDRESS:DECIMALS (repeat)."),
    ] = None,
    all_tokens: Annotated[
        bool,
        typer.Option("--all-tokens", help="Keep every token contract, not only tracked ones."),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first bad row instead of skipping it.")
    ] = False,
    rejects: Annotated[
        str | None,
        typer.Option("--rejects", help="Where bad rows go (CSV; default <db>.rejects.csv)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import transfers from dump files into the store, with the indexers' guarantees.

    Reruns change nothing (same natural keys as `index evm`/`index btc`); the covered block
    range is checkpointed so `index` continues after it; a range that would leave a gap is
    refused; bad rows are skipped and listed (file and row) unless --strict.
    """
    from .indexers.bulk import ImportOptions, ImportProgress, import_transfers
    from .store import connect

    spec = chain_spec(chain or "ethereum")
    extra = []
    for item in token or []:
        parsed = parse_tokens(spec, "none", [item])
        if any(t.decimals < 0 for t in parsed):
            raise InputError(f"--token {item!r}: give the decimals (SYMBOL=0xADDRESS:DECIMALS)")
        extra.extend(parsed)
    reject_file = Path(rejects) if rejects else Path(f"{db_path(db)}.rejects.csv")
    with ExitStack() as stack:
        con = connect(db)
        stack.callback(con.close)
        progress = stack.enter_context(
            Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                     TimeElapsedColumn(), console=err, disable=_quiet())
        )
        task = progress.add_task(f"import {fmt}", total=None)

        def on_progress(p: ImportProgress) -> None:
            progress.update(task, total=p.total, completed=p.done)

        options = ImportOptions(
            chain=chain, network=network, all_tokens=all_tokens, strict=strict,
            rejects_path=reject_file, on_progress=on_progress,
        )
        result = import_transfers(con, paths, fmt, options, tokens=extra)
        progress.stop()
    ranges = ", ".join(f"{c.stream} {c.first}-{c.last}" for c in result.coverage) or "none"
    out.print(
        f"{result.chain}: imported {result.rows_imported:,} rows from {len(result.files)} "
        f"{fmt} files in {result.seconds:.1f} s into {db_path(db)} (covered: {ranges})",
        markup=False,
    )
    if result.rejected:
        for r in result.rejects[:5]:
            err.print(f"rejected {r.file}:{r.row}: {r.problem}", markup=False)
        err.print(
            f"{result.rejected:,} bad rows skipped; all of them are listed in "
            f"{result.rejects_path}",
            markup=False,
        )


@export_app.command("transfers")
def export_transfers_command(
    folder: Annotated[str, typer.Argument(help="Folder to write (created if missing).")],
    fmt: Annotated[
        str,
        typer.Option("--format", help="parquet (re-importable with --format exposure) or csv."),
    ] = "parquet",
    chain: Annotated[
        str | None, typer.Option("--chain", help="Only this chain (default: every EVM chain).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export the store's EVM transfers and blocks with their checkpointed coverage."""
    from .indexers.bulk import export_transfers
    from .store import connect

    con = connect(db, read_only=True)
    try:
        result = export_transfers(con, folder, chain=chain, fmt=fmt)
    finally:
        con.close()
    out.print(
        f"exported {result.transfers:,} transfers and {result.blocks:,} blocks of "
        f"{', '.join(result.chains)} to {result.folder} in {result.seconds:.1f} s",
        markup=False,
    )


@db_app.command("info")
def db_info(db: DbOption = None) -> None:
    """Show the store's schema version, indexed ranges per chain and stream, open blocks (a row
    rejected by an import: not covered until indexed or re-imported) and row counts."""
    from .store import connect, reads
    from .store.migrations import current_version

    con = connect(db, read_only=True)
    try:
        out.print(f"{db_path(db)}: schema version {current_version(con)}")
        for chain, stream, first, last in con.execute(
            "SELECT chain, stream, first_block, last_block FROM checkpoints ORDER BY 1, 2"
        ).fetchall():
            out.print(f"  {chain} {stream}: blocks {first}-{last}")
        shown = 10
        opened = reads.open_blocks(con, limit=shown + 1)
        for b in opened[:shown]:
            out.print(f"  {b.chain} {b.stream}: block {b.block} open (not covered; `index evm` "
                      f"or a corrected import fills it): {b.reason} [{b.source}]", markup=False)
        if len(opened) > shown:
            out.print("  more open blocks: see the open_blocks table", markup=False)
        for asset, n in con.execute(
            "SELECT chain || ' ' || asset, count(*) FROM transfers GROUP BY 1 ORDER BY 1"
        ).fetchall():
            out.print(f"  {asset}: {n:,} transfers")
    finally:
        con.close()


@db_app.command("migrate")
def db_migrate(db: DbOption = None) -> None:
    """Bring an older store's schema up to this version of exposure."""
    from .store import SCHEMA_VERSION, connect

    connect(db).close()
    out.print(f"{db_path(db)}: schema version {SCHEMA_VERSION}")


def paragraphs(text: str | None) -> str | None:
    """Help text as paragraphs: a docstring's hard line breaks inside a paragraph become spaces
    (the terminal wraps them to its width); blank lines still separate paragraphs."""
    if not text:
        return text
    doc = inspect.cleandoc(text)
    return "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n") if p.strip())


def _wrap_help_as_paragraphs(*apps: typer.Typer) -> None:
    for sub in apps:
        for info in sub.registered_commands:
            info.help = paragraphs(info.help or (info.callback.__doc__ if info.callback else None))
        for group in sub.registered_groups:
            group.help = paragraphs(group.help) if isinstance(group.help, str) else group.help


_wrap_help_as_paragraphs(app, index_app, import_app, export_app, labels_app, db_app)


def _usage_line(exc: typer.TyperException, argv: list[str] | None) -> str:
    """typer's usage error as one line, naming the command's --help (and ``--`` for a value
    that starts with a dash, such as a mistyped address)."""
    message = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "exposure"
    args = sys.argv[1:] if argv is None else argv
    dashed = [a for a in args if a.startswith("-") and len(a) > 2 and a[1] != "-"
              and not a[1:].isalpha()]
    hint = (
        f"; a value that starts with '-' ({dashed[0]!r}) goes after `--`, options before it"
        if dashed else ""
    )
    return f"{message} (see `{command} --help`){hint}"


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the CLI, map errors to exit codes, never show a traceback."""
    try:
        result = app(args=argv, prog_name="exposure", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors: one line, code 2
        err.print(f"error: {_usage_line(exc, argv)}", markup=False)
        return exc.exit_code
    except ExposureError as exc:
        if _state["debug"]:
            raise
        err.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # the last line of defence: one line, unless --debug
        if _state["debug"]:
            raise
        err.print(
            f"error: unexpected {type(exc).__name__}; rerun with --debug for details", markup=False
        )
        return 1


def run() -> None:
    """Entry point for ``python -m exposure`` and the console script."""
    sys.exit(main())
