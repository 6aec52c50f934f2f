"""Fault injection for the reliability tests and ``bench/reliability.py``.

A :class:`FaultPlan` tells the JSON-RPC proxy (tests/proxy.py) which fault of
:data:`tests.proxy.FAULT_KINDS` to inflict on each request, at a given rate, and can reorganise
the node's chain once mid-run. The runners here play whole scenarios on real nodes (anvil, bcoin)
and measure what matters: faults injected, crash points tried, rows lost and rows duplicated
against a fault-free run of the same chain. The tests run them small, the bench big.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exposure.devchain import Anvil, DevChain, Scenario, seed_many_transfers, seed_scenario
from exposure.domain import ChainSpec, Token
from exposure.indexers.evm import IndexSettings, index_evm
from exposure.indexers.evm.logs import TRANSFER_TOPIC
from exposure.indexers.rpc import RpcClient
from exposure.store import connect
from tests.conftest import comparable_rows
from tests.proxy import FAULT_KINDS, ProxyRules, RpcProxy

REPO = Path(__file__).resolve().parents[1]
EVM_TABLES = ("blocks", "token_transfers", "native_transfers")
BTC_TABLES = ("blocks", "btc_txs", "btc_outputs", "btc_inputs", "btc_prevouts", "btc_transfers")
#: Methods whose first parameter is a block height (the reorg trigger watches them).
_HEIGHT_METHODS = {"eth_getBlockByNumber": 16, "getblockhash": 10}


# -- the plan the proxy follows ------------------------------------------------------------------


@dataclass
class FaultPlan:
    """Inflict a random fault of ``kinds`` on a share ``rate`` of requests (seeded).

    ``reorg`` is called once, from the proxy, before forwarding the first request that asks for
    a block above ``reorg_above`` (the indexer is then past the fork point: the node's chain is
    replaced under it mid-run). ``injected`` counts faults by kind, ``"reorg"`` included.
    """

    rate: float
    kinds: Sequence[str] = FAULT_KINDS
    seed: int = 0
    reorg_above: int | None = None
    reorg: Callable[[], None] | None = None
    injected: Counter = field(default_factory=Counter)
    requests: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> str | None:
        items = request if isinstance(request, list) else [request]
        with self._lock:
            self.requests += 1
            due = self.reorg_above is not None and _highest_height(items) > self.reorg_above
            if self.reorg is not None and due:
                reorg, self.reorg = self.reorg, None
                reorg()
                self.injected["reorg"] += 1
            if self._rng.random() >= self.rate:
                return None
            kinds = [k for k in self.kinds if k != "too_many_results" or _multi_block_logs(items)]
            kind = self._rng.choice(kinds)
            self.injected[kind] += 1
            return kind

    @property
    def total(self) -> int:
        """Faults injected, the reorganisation included."""
        return sum(self.injected.values())


def _highest_height(items: list[Any]) -> int:
    top = -1
    for item in items:
        base = _HEIGHT_METHODS.get(item.get("method"))
        params = item.get("params") or []
        if base and params:
            value = params[0]
            top = max(top, int(value, 16) if isinstance(value, str) else int(value))
    return top


def _multi_block_logs(items: list[Any]) -> bool:
    for item in items:
        if item.get("method") == "eth_getLogs":
            flt = (item.get("params") or [{}])[0]
            if int(flt.get("toBlock", "0x0"), 16) > int(flt.get("fromBlock", "0x0"), 16):
                return True
    return False


# -- comparing stores ----------------------------------------------------------------------------


def table_rows(db: Path, tables: Sequence[str]) -> dict[str, Counter]:
    """Every row of ``tables`` (and the checkpoints' ranges) as multisets."""
    con = connect(db)
    try:
        out = {t: Counter(comparable_rows(con, t, ordered=False)) for t in tables}
        out["checkpoints"] = Counter(
            con.execute("SELECT chain, stream, first_block, last_block FROM checkpoints").fetchall()
        )
    finally:
        con.close()
    return out


@dataclass(frozen=True)
class RowDiff:
    """Rows of the reference missing from a store (lost) and rows beyond it (duplicated or
    wrong), over all compared tables."""

    lost: int
    duplicated: int
    compared: int

    @property
    def identical(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def diff_rows(got: dict[str, Counter], reference: dict[str, Counter]) -> RowDiff:
    """How ``got`` differs from ``reference``, row for row."""
    lost = sum(sum((reference[t] - got[t]).values()) for t in reference)
    extra = sum(sum((got[t] - reference[t]).values()) for t in reference)
    return RowDiff(lost, extra, sum(sum(c.values()) for c in reference.values()))


# -- an EVM chain worth soaking ----------------------------------------------------------------


@dataclass(frozen=True)
class EvmSoakChain:
    """A long chain on an anvil node: the scenario, then rounds of empty blocks and transfers."""

    scenario: Scenario
    head: int
    fork_point: int  # the snapshot: blocks above it are replaced by :func:`evm_reorg`
    snapshot: str
    transfers: int  # Transfer logs of the tracked tokens

    @property
    def spec(self) -> ChainSpec:
        s = self.scenario
        return ChainSpec(
            "devchain", None, "ETH", 18, (Token("USDT", s.usdt, 6), Token("USDC", s.usdc, 6))
        )


def build_evm_soak_chain(
    chain: DevChain, *, blocks: int, transfers: int, rounds: int = 10, seed: int = 0
) -> EvmSoakChain:
    """At least ``blocks`` blocks holding about ``transfers`` token transfers, spread in
    ``rounds`` (plus the scenario's ETH, internal and edge-case transfers); a snapshot is taken
    two thirds of the way for a reorganisation."""
    s = seed_scenario(chain)
    per_round = max(2, transfers // rounds)
    gap = max(1, (blocks - chain.block_number()) // rounds)
    snapshot, fork_point = "", 0
    for r in range(rounds):
        if r == (2 * rounds) // 3:
            fork_point, snapshot = chain.block_number(), chain.snapshot()
        chain.mine(gap)
        token = s.usdt if r % 2 == 0 else s.usdc
        seed_many_transfers(chain, token, per_round, per_tx=25, seed=seed + r, logs_per_block=None)
    if chain.block_number() < blocks:
        chain.mine(blocks - chain.block_number())
    logs = chain.get_logs(0, chain.block_number(), address=[s.usdt, s.usdc], topics=[TRANSFER_TOPIC])
    n = sum(len(log["topics"]) == 3 for log in logs)
    return EvmSoakChain(s, chain.block_number(), fork_point, snapshot, n)


def evm_reorg(chain: DevChain, soak: EvmSoakChain, seed: int = 99) -> Callable[[], None]:
    """A reorganisation: back to the snapshot, then another branch (other transfers), at least
    as long as the old one."""

    def reorg() -> None:
        chain.revert(soak.snapshot)
        chain.transfer_eth(soak.scenario.fresh_addresses[0], 12_345)
        seed_many_transfers(chain, soak.scenario.usdt, 30, per_tx=10, seed=seed)
        missing = soak.head + 3 - chain.block_number()
        if missing > 0:
            chain.mine(missing)

    return reorg


def index_evm_store(url: str, db: Path, soak: EvmSoakChain, **settings: Any) -> Any:
    """Index blocks 0..head of the soak chain from ``url`` into ``db`` with default retries."""
    con = connect(db)
    try:
        return index_evm(
            con,
            RpcClient(url, backoff=0.05, max_backoff=2.0),
            chain=soak.spec,
            to_block=soak.head,
            settings=IndexSettings(**{"confirmations": 0, **settings}),
        )
    finally:
        con.close()


@dataclass(frozen=True)
class SoakFigures:
    """What a soak did and found."""

    chain: str
    blocks: int
    transfers: int
    requests: int
    faults: dict[str, int]
    reorgs_seen: int
    diff: RowDiff
    seconds: float


def soak_evm(
    tmp: Path,
    *,
    blocks: int,
    transfers: int,
    rate: float,
    seed: int = 0,
    reorg: bool = True,
    max_native_blocks: int = 200,
    anvil_args: Sequence[str] = (),
) -> SoakFigures:
    """Index a fresh long anvil chain through the faulty proxy (reorganised mid-run), then the
    final chain fault-free; compare the two stores row for row.

    anvil mines each block slower the longer its chain (about 2 ms per block at height 2,000,
    20 ms at 6,000); ``anvil_args=("--prune-history", "64")`` halves that for long soaks."""
    started = time.monotonic()
    with Anvil(*anvil_args) as node, node.chain() as chain:
        soak = build_evm_soak_chain(chain, blocks=blocks, transfers=transfers, seed=seed)
        plan = FaultPlan(rate, seed=seed)
        if reorg:
            plan.reorg_above = soak.fork_point + (soak.head - soak.fork_point) // 2
            plan.reorg = evm_reorg(chain, soak)
        db = tmp / f"soak-evm-{seed}.duckdb"
        with RpcProxy(node.url, ProxyRules(faults=plan)) as proxy:
            result = index_evm_store(proxy.url, db, soak, max_native_blocks=max_native_blocks)
        reference = tmp / f"soak-evm-{seed}-reference.duckdb"
        index_evm_store(node.url, reference, soak, max_native_blocks=max_native_blocks)
        diff = diff_rows(table_rows(db, EVM_TABLES), table_rows(reference, EVM_TABLES))
    return SoakFigures(
        "anvil", soak.head + 1, soak.transfers, plan.requests, dict(plan.injected),
        result.reorgs, diff, time.monotonic() - started,
    )


# -- crashes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrashFigures:
    """Kill points tried, how each left the store, and the final comparison."""

    kills: int
    runs: int
    partial_batches_seen: int  # kill points after which a committed prefix disagreed
    unclean_opens: int
    diff: RowDiff
    seconds: float


def committed_prefix(db: Path, reference: dict[str, Counter]) -> tuple[bool, bool]:
    """(opens cleanly, shows exactly a committed prefix of the reference): every row at or below
    its stream's checkpoint equals the reference's, and nothing lies above."""
    try:
        con = connect(db, read_only=True)
    except Exception:
        return False, False
    try:
        cps = dict(con.execute("SELECT stream, last_block FROM checkpoints").fetchall())
        got = {t: Counter(comparable_rows(con, t, ordered=False)) for t in EVM_TABLES}
    finally:
        con.close()
    top = max(cps.values(), default=-1)

    def limit(table: str, row: tuple) -> int:
        if table == "blocks":
            return top
        if table == "native_transfers":
            return cps.get("native", -1)
        return cps.get(f"erc20:{row[1]}", -1)

    block_col = {"blocks": 1, "token_transfers": 2, "native_transfers": 1}
    for table in EVM_TABLES:
        want = Counter(
            {r: n for r, n in reference[table].items() if r[block_col[table]] <= limit(table, r)}
        )
        if got[table] != want:
            return True, False
    return True, True


def crash_evm(
    tmp: Path,
    node: Anvil,
    soak: EvmSoakChain,
    *,
    kills: int,
    seed: int = 0,
    batch_blocks: int = 25,
) -> CrashFigures:
    """Run ``exposure index evm`` and SIGKILL it at ``kills`` random moments (a random request,
    then a random delay of up to 80 ms: inside fetches, decoding and commits), checking after
    each kill that the store opens and shows only committed batches; then rerun to the end and
    compare with a run that was never killed."""
    started = time.monotonic()
    s = soak.scenario
    args = [
        "index", "evm", "--chain", "local", "--confirmations", "0",
        "--token", f"USDT={s.usdt}:6", "--token", f"USDC={s.usdc}:6",
        "--to-block", str(soak.head), "--batch-blocks", str(batch_blocks),
    ]
    env = {**os.environ, "CI": "true"}
    state: dict[str, Any] = {"count": 0, "at": 0, "proc": None}
    lock = threading.Lock()
    rng = random.Random(seed)

    def killer(request: Any) -> None:
        with lock:
            state["count"] += 1
            if state["count"] == state["at"] and state["proc"] is not None:
                pid = state["proc"].pid
                delay = rng.uniform(0, 0.08)
                threading.Timer(delay, _sigkill, [pid]).start()
        return None

    with RpcProxy(node.url, ProxyRules(intercept=killer)) as proxy:
        reference_db = tmp / "crash-reference.duckdb"
        state["at"] = -1
        done = subprocess.run(
            [sys.executable, "-m", "exposure", *args, "--rpc", proxy.url, "--db", str(reference_db)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"reference run failed: {done.stderr}")
        total = state["count"]
        reference = table_rows(reference_db, EVM_TABLES)
        db = tmp / "crash.duckdb"
        done_kills = runs = partial = unclean = 0
        while done_kills < kills:
            with lock:
                state["count"] = 0
                state["at"] = rng.randint(1, max(2, (2 * total) // kills))
            proc = subprocess.Popen(
                [sys.executable, "-m", "exposure", *args, "--rpc", proxy.url, "--db", str(db)],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            state["proc"] = proc
            code = proc.wait(timeout=600)
            state["proc"] = None
            runs += 1
            if code == -signal.SIGKILL:
                done_kills += 1
                opens, prefix = committed_prefix(db, reference)
                unclean += not opens
                partial += not prefix
            elif code == 0:
                if runs > 4 * kills:
                    break
                db.unlink()  # finished before the kill point: start over, more to kill
                wal = db.with_suffix(".duckdb.wal")
                if wal.exists():
                    wal.unlink()
            else:
                raise RuntimeError(f"the indexer exited with {code} after a kill")
        final = subprocess.run(
            [sys.executable, "-m", "exposure", *args, "--rpc", proxy.url, "--db", str(db)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )
        if final.returncode != 0:
            raise RuntimeError(f"the rerun after the kills failed: {final.stderr}")
    diff = diff_rows(table_rows(db, EVM_TABLES), reference)
    return CrashFigures(done_kills, runs, partial, unclean, diff, time.monotonic() - started)


def _sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# -- a Bitcoin chain worth soaking -----------------------------------------------------------


def soak_btc(
    tmp: Path,
    *,
    blocks: int,
    payments: int,
    rate: float,
    seed: int = 0,
    reorg: bool = True,
    max_blocks: int = 20,
) -> SoakFigures:
    """Index a fresh bcoin regtest chain (wallet payments between mined blocks) through the
    faulty proxy, invalidating a block mid-run so the node switches to another branch; then the
    final chain fault-free; compare the two stores row for row."""
    from exposure.devchain.bitcoin import Bcoin
    from exposure.indexers.bitcoin.indexer import BtcIndexSettings, index_btc

    started = time.monotonic()
    rng = random.Random(seed)
    with Bcoin() as node, node.chain() as btc:
        btc.mine(101)
        rounds = max(1, payments // 5)
        per_round_blocks = max(1, (blocks - 101) // rounds)
        targets = [btc.new_address() for _ in range(8)]
        fork_block = 0
        for r in range(rounds):
            for _ in range(5):
                btc.send([(rng.choice(targets), rng.randrange(100_000, 50_000_000))])
            btc.mine(1)
            if r == (2 * rounds) // 3:
                fork_block = btc.block_count()
            btc.mine(max(0, per_round_blocks - 1), address=targets[0])
        head = btc.block_count()
        plan = FaultPlan(rate, seed=seed)
        other = btc.new_address()

        def btc_reorg() -> None:
            btc.invalidate(btc.rpc("getblockhash", [fork_block]))
            btc.mine(head + 3 - btc.block_count(), address=other)

        if reorg:
            plan.reorg_above = fork_block + (head - fork_block) // 2
            plan.reorg = btc_reorg

        def run(url: str, db: Path) -> Any:
            con = connect(db)
            try:
                return index_btc(
                    con, RpcClient(url, backoff=0.05, max_backoff=2.0), network="regtest",
                    to_height=head,
                    settings=BtcIndexSettings(confirmations=0, max_blocks=max_blocks,
                                              blocks_per_request=4, max_blocks_per_request=8),
                )
            finally:
                con.close()

        db = tmp / f"soak-btc-{seed}.duckdb"
        with RpcProxy(node.url, ProxyRules(faults=plan)) as proxy:
            result = run(proxy.url, db)
        reference = tmp / f"soak-btc-{seed}-reference.duckdb"
        run(node.url, reference)
        diff = diff_rows(table_rows(db, BTC_TABLES), table_rows(reference, BTC_TABLES))
        n_tx = sum(table_rows(reference, ("btc_transfers",))["btc_transfers"].values())
    return SoakFigures(
        "bcoin", head + 1, n_tx, plan.requests, dict(plan.injected), result.reorgs, diff,
        time.monotonic() - started,
    )


# -- hostile input ---------------------------------------------------------------------------

VALID_EVM = "0x28C6c06298d514Db089934071355E5743bf21d60"
VALID_BECH32 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"

#: Malformed, mis-checksummed, wrong-network, look-alike and oversized addresses: each must be
#: refused with exit code 2 and one line.
BAD_ADDRESSES = (
    "0x1234",
    VALID_EVM[:-1],  # 39 hex digits
    VALID_EVM + "0",  # 41
    VALID_EVM.replace("C6c", "c6c"),  # one letter's case flipped: EIP-55 fails
    VALID_EVM.replace("bf21", "bF21"),
    "0X" + VALID_EVM[2:],
    "0x" + "g" * 40,
    VALID_EVM.replace("c", "\u0441"),  # Cyrillic es
    "\uff10\uff58" + VALID_EVM[2:],  # fullwidth 0x
    VALID_EVM[:2] + "\u0661" + VALID_EVM[3:],  # Arabic-Indic digit one
    VALID_EVM[:10] + "\u200b" + VALID_EVM[10:],  # zero-width space
    "\u202e" + VALID_EVM,  # right-to-left override
    VALID_EVM[:20] + " " + VALID_EVM[20:],
    VALID_EVM + "\n" + VALID_EVM,
    "1" * 100_000,
    "0x" + "a" * 10_000,
    "",
    " \t ",
    VALID_BECH32[:-1] + "x",  # bech32 checksum
    VALID_BECH32[:-1] + "Q",  # mixed case bech32
    "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",  # testnet on mainnet
    "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",  # testnet base58
    "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",  # regtest, nothing indexed
    "ltc1qg82tq6lzdx4k5w9hy9vmwk2l8fw6zmq5ql7pqs",  # Litecoin
    "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1",
    "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",  # base58 checksum
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz",
    "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3298",  # bech32m checksum
    "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",  # v2 witness with bech32, not bech32m (BIP 350)
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # taproot with bech32
    "'; DROP TABLE transfers; --",
    "0x' OR '1'='1",
    "%s%s%n",
    "{0}{1}",
    "\x1b[31mred\x1b[0m",
    "<script>alert(1)</script>",
    "null",
    "ａｄｄｒｅｓｓ",
)

#: SQL metacharacters fed through every user-facing string input.
SQL_STRINGS = (
    "'; DROP TABLE transfers; --",
    "x' OR '1'='1",
    '"; DELETE FROM blocks; --',
    "a\\'; SELECT 1; --",
    "%' UNION SELECT * FROM tags --",
    "$1; ATTACH 'evil.db'",
)
