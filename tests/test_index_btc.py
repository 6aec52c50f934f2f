"""The Bitcoin indexer against a real bcoin regtest node and its wallet.

Each test states one behaviour a user relies on: the node's transactions, outputs and addresses
exactly; inputs resolved to what they spend; transfers apportioned as documented; balances equal
to the wallet's; exactly once; prevouts outside the range; confirmations; reorganisations; dead
nodes and killed runs; and the node's API key never shown or stored.

The oracle is the node's own verbose view (``getblock <hash> true true``). bcoin encodes regtest
addresses its own way (``R...``, ``rb1...``), so outputs are compared by scriptPubKey, encoded
here with Bitcoin Core's regtest prefixes through bitcoinlib's encoders (not the project's).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass

import pytest

from exposure.devchain.bitcoin import Bcoin, BtcDevChain, Consolidation
from exposure.errors import InputError, RpcError
from exposure.indexers.bitcoin.indexer import BtcIndexSettings, index_btc, unresolved_inputs
from exposure.indexers.rpc import RpcClient
from exposure.store import connect
from tests.conftest import REPO, comparable_rows, require_bcoin, run_cli
from tests.proxy import ProxyRules, RpcProxy

CHAIN = "bitcoin-regtest"
TABLES = ("blocks", "btc_txs", "btc_outputs", "btc_inputs", "btc_prevouts", "btc_transfers")



# -- an oracle for addresses: scriptPubKey -> Bitcoin Core regtest address ------------------------


def core_regtest_address(script_hex: str) -> str | None:
    """Bitcoin Core's regtest address of a scriptPubKey (None for OP_RETURN, bare multisig...)."""
    from bitcoinlib.encoding import pubkeyhash_to_addr_base58, pubkeyhash_to_addr_bech32

    s = bytes.fromhex(script_hex)
    if len(s) == 25 and s[:3] == b"\x76\xa9\x14" and s[23:] == b"\x88\xac":
        return pubkeyhash_to_addr_base58(s[3:23], prefix=b"\x6f")
    if len(s) == 23 and s[:2] == b"\xa9\x14" and s[22] == 0x87:
        return pubkeyhash_to_addr_base58(s[2:22], prefix=b"\xc4")
    if len(s) in (22, 34) and s[0] == 0 and s[1] == len(s) - 2:
        return pubkeyhash_to_addr_bech32(s[2:], prefix="bcrt", witver=0)
    if len(s) == 34 and s[:2] == b"\x51\x20":
        return pubkeyhash_to_addr_bech32(s[2:], prefix="bcrt", witver=1)
    if len(s) in (35, 67) and s[0] == len(s) - 2 and s[-1] == 0xAC:  # P2PK: shown as P2PKH
        digest = hashlib.new("ripemd160", hashlib.sha256(s[1:-1]).digest()).digest()
        return pubkeyhash_to_addr_base58(digest, prefix=b"\x6f")
    return None


# -- the node's view --------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeTx:
    height: int
    position: int
    txid: str
    inputs: tuple[tuple[str, int] | None, ...]  # (prev txid, prev vout); None for coinbase
    outputs: tuple[tuple[int, str], ...]  # (value in sat, scriptPubKey hex)


def node_view(btc: BtcDevChain, last: int | None = None) -> list[NodeTx]:
    """Every transaction of heights 0..last as the node shows it (verbose getblock)."""
    last = btc.block_count() if last is None else last
    hashes = btc.block_hashes(0, last)
    blocks = btc.rpc_batch([("getblock", [h, True, True]) for h in hashes])
    out = []
    for height, block in enumerate(blocks):
        for position, tx in enumerate(block["tx"]):
            inputs = tuple(
                None if "coinbase" in vin else (vin["txid"], vin["vout"]) for vin in tx["vin"]
            )
            outputs = tuple(
                (round(v["value"] * 100_000_000), v["scriptPubKey"]["hex"]) for v in tx["vout"]
            )
            out.append(NodeTx(height, position, tx["txid"], inputs, outputs))
    return out


def expected_transfers(view: list[NodeTx]) -> Counter:
    """writes.py's rule from the node's data: from each input address to each output address,
    floor(output value * input value / the transaction's input value)."""
    outs = {(t.txid, n): o for t in view for n, o in enumerate(t.outputs)}
    rows: Counter = Counter()
    for t in view:
        if t.inputs[0] is None:
            continue
        spent = [outs[p] for p in t.inputs]
        total = sum(v for v, _ in spent)
        for vin, (in_value, in_script) in enumerate(spent):
            src = core_regtest_address(in_script)
            for vout, (out_value, out_script) in enumerate(t.outputs):
                dst = core_regtest_address(out_script)
                if src and dst and total:
                    rows[(t.height, t.txid, vin, vout, src, dst, out_value * in_value // total)] += 1
    return rows


# -- the store's view -------------------------------------------------------------------------


def run_index(url, db, **kw):
    settings = BtcIndexSettings(**{"confirmations": 0, **kw.pop("settings", {})})
    con = connect(db)
    try:
        return index_btc(
            con, RpcClient(url, retries=1, backoff=0.01), network="regtest", settings=settings, **kw
        )
    finally:
        con.close()


def all_rows(db) -> dict[str, list]:
    con = connect(db)
    out = {t: comparable_rows(con, t) for t in TABLES}
    out["checkpoints"] = con.execute(
        "SELECT chain, stream, first_block, last_block FROM checkpoints ORDER BY ALL"
    ).fetchall()
    con.close()
    return out


def query(db, sql, params=()):
    con = connect(db)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def unspent_by_address(db) -> dict[str, int]:
    rows = query(
        db,
        """SELECT o.address, sum(o.value_sat) FROM btc_outputs o
        WHERE o.chain = ? AND o.address IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM btc_inputs i WHERE i.chain = o.chain AND i.prev_txid = o.txid
            AND i.prev_vout = o.vout)
        GROUP BY 1""",
        [CHAIN],
    )
    return {a: int(v) for a, v in rows}


# -- the world: one node with varied wallet transactions, shared by read-only tests ------------

P2TR = bytes.fromhex("5120" + "11" * 32)
P2WSH = bytes.fromhex("0020" + "22" * 32)
BARE_MULTISIG = bytes.fromhex("5121" + "02" + "33" * 32 + "51ae")
P2PK = bytes.fromhex("2102" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798ac")
OP_RETURN = bytes.fromhex("6a0b6578706f737572652d7478")


@dataclass(frozen=True)
class World:
    node: Bcoin
    btc: BtcDevChain
    fanout_txid: str  # one transaction with outputs of every script type
    consolidation: Consolidation  # 5 P2PKH inputs from 5 addresses
    witness_consolidation: Consolidation  # 3 P2WPKH inputs
    mixed_spend_txid: str  # P2WPKH and P2SH-P2WPKH inputs together
    wallets: tuple[str, ...]
    first_scenario_block: int


@pytest.fixture(scope="module")
def world():
    require_bcoin()
    with Bcoin() as node, node.chain() as btc:
        btc.activate_segwit()
        btc.create_wallet("seg", witness=True)
        seg = btc.new_address("seg")
        nested = btc.new_address("seg", nested=True)
        first = btc.block_count() + 1
        fanout = btc.send(
            [(seg, 200_000_000), (nested, 150_000_000), (btc.new_address(), 70_000_000)],
            scripts=[(P2TR, 10_000), (P2WSH, 20_000), (BARE_MULTISIG, 30_000), (P2PK, 40_000),
                     (OP_RETURN, 0)],
        )
        btc.mine(1)
        btc.wait_confirmed("seg", [fanout])
        plain = btc.consolidate(5, 1_000_000, wallet="coll", to_address=seg)
        btc.mine(1)
        btc.create_wallet("sink")
        witness = btc.consolidate(
            3, 2_000_000, wallet="wcoll", witness=True, to_address=btc.new_address("sink")
        )
        btc.mine(1)
        btc.wait_confirmed("seg", [plain.spend_txid])
        mixed = btc.send(
            [(btc.new_address("sink"), 300_000_000)], wallet="seg", selection="all",
            subtract_fee=True,
        )
        btc.mine(3)
        btc.wait_confirmed("sink", [witness.spend_txid, mixed])
        yield World(
            node, btc, fanout, plain, witness, mixed, ("primary", "seg", "coll", "wcoll", "sink"),
            first,
        )


@pytest.fixture(scope="module")
def indexed(world, tmp_path_factory):
    """The world indexed once into a store (read-only use)."""
    db = tmp_path_factory.mktemp("btc") / "world.duckdb"
    result = run_index(world.node.url, db)
    return db, result


# -- what gets indexed --------------------------------------------------------------------------


def test_txids_in_block_order_equal_the_nodes(world, indexed):
    db, result = indexed
    view = node_view(world.btc)
    assert result.blocks == world.btc.block_count() + 1 and result.transactions == len(view)
    stored = query(db, "SELECT block_number, position, txid FROM btc_txs ORDER BY 1, 2")
    assert stored == [(t.height, t.position, t.txid) for t in view]
    hashes = dict(query(db, "SELECT number, hash FROM blocks"))
    assert hashes == dict(enumerate(world.btc.block_hashes(0, world.btc.block_count())))


def test_outputs_values_and_addresses_equal_the_nodes_scripts(world, indexed):
    db, _ = indexed
    expected = {
        (t.txid, n): (t.height, value, core_regtest_address(script))
        for t in node_view(world.btc)
        for n, (value, script) in enumerate(t.outputs)
    }
    stored = {
        (txid, vout): (height, value, address)
        for height, txid, vout, value, address in query(
            db, "SELECT block_number, txid, vout, value_sat, address FROM btc_outputs"
        )
    }
    assert stored == expected
    types = dict(
        query(db, "SELECT vout, script_type FROM btc_outputs WHERE txid = ?", [world.fanout_txid])
    )
    assert {"p2tr", "p2wsh", "p2wpkh", "p2sh", "p2pkh", "p2pk", "nulldata"} <= set(types.values())
    without = query(
        db, "SELECT count(*) FROM btc_outputs WHERE txid = ? AND address IS NULL",
        [world.fanout_txid],
    )
    assert without == [(2,)]  # the OP_RETURN and the bare multisig output


def test_inputs_resolve_to_the_outputs_they_spend(world, indexed):
    db, _ = indexed
    view = node_view(world.btc)
    expected = {
        (t.txid, vin): prev for t in view for vin, prev in enumerate(t.inputs) if prev is not None
    }
    stored = {
        (txid, vin): (prev, int(vout))
        for txid, vin, prev, vout in query(
            db, "SELECT txid, vin, prev_txid, prev_vout FROM btc_inputs WHERE NOT is_coinbase"
        )
    }
    assert stored == expected
    unmatched = query(
        db,
        "SELECT count(*) FROM btc_inputs i LEFT JOIN btc_outputs o ON o.txid = i.prev_txid "
        "AND o.vout = i.prev_vout WHERE NOT i.is_coinbase AND o.txid IS NULL",
    )
    assert unmatched == [(0,)]
    spent_types = "SELECT DISTINCT o.script_type FROM btc_inputs i JOIN btc_outputs o " \
        "ON o.txid = i.prev_txid AND o.vout = i.prev_vout WHERE i.txid = ? ORDER BY 1"
    assert query(db, spent_types, [world.mixed_spend_txid]) == [("p2sh",), ("p2wpkh",)]
    assert query(db, spent_types, [world.witness_consolidation.spend_txid]) == [("p2wpkh",)]


def test_a_consolidation_spends_each_of_its_addresses_in_one_transaction(world, indexed):
    db, _ = indexed
    view = {t.txid: t for t in node_view(world.btc)}
    for c in (world.consolidation, world.witness_consolidation):
        funding = view[c.funding_txid]
        funded = {core_regtest_address(s) for _, s in funding.outputs}
        spenders = query(
            db,
            "SELECT DISTINCT o.address FROM btc_inputs i JOIN btc_outputs o "
            "ON o.txid = i.prev_txid AND o.vout = i.prev_vout WHERE i.txid = ?",
            [c.spend_txid],
        )
        addresses = {a for (a,) in spenders}
        assert len(addresses) == len(c.addresses) and addresses <= funded


def test_transfers_apportion_output_values_by_input_shares(world, indexed):
    db, result = indexed
    view = node_view(world.btc)
    stored = Counter(
        (int(h), t, vin, vout, f, to, int(a))
        for h, t, vin, vout, f, to, a in query(
            db,
            "SELECT block_number, txid, vin, vout, from_address, to_address, amount_sat "
            "FROM btc_transfers",
        )
    )
    assert stored == expected_transfers(view)
    assert result.transfers == sum(stored.values())
    # Floor rounding: per output, the inputs' parts sum to its value less under one sat each.
    n_in = {t.txid: len(t.inputs) for t in view}
    for txid, vout, value, parts in query(
        db,
        "SELECT o.txid, o.vout, o.value_sat, sum(x.amount_sat) FROM btc_transfers x "
        "JOIN btc_outputs o ON o.txid = x.txid AND o.vout = x.vout GROUP BY ALL",
    ):
        assert value - n_in[txid] < parts <= value, (txid, vout)
    assets = query(db, "SELECT DISTINCT asset, chain FROM transfers")
    assert assets == [("BTC", CHAIN)]


def test_balances_per_address_equal_the_wallets(world, indexed):
    db, _ = indexed
    store = unspent_by_address(db)
    for wallet in world.wallets:
        coins = world.btc.coins(wallet)
        by_address = Counter()
        for coin in coins:
            by_address[core_regtest_address(coin["script"])] += coin["value"]
        assert {a: store.get(a, 0) for a in by_address} == dict(by_address), wallet
        assert sum(by_address.values()) == world.btc.balance(wallet)["confirmed"], wallet
    # The consolidated addresses are empty in the store as in the wallet.
    spent = query(
        db,
        "SELECT DISTINCT o.address FROM btc_inputs i JOIN btc_outputs o "
        "ON o.txid = i.prev_txid AND o.vout = i.prev_vout WHERE i.txid = ?",
        [world.consolidation.spend_txid],
    )
    assert all(store.get(a, 0) == 0 for (a,) in spent) and world.btc.coins("coll") == []


# -- exactly once ---------------------------------------------------------------------------


def test_a_rerun_is_a_no_op_and_reindexing_in_small_batches_leaves_the_same_rows(
    world, indexed, tmp_path
):
    db = tmp_path / "x.duckdb"
    run_index(world.node.url, db)
    before = all_rows(db)
    again = run_index(world.node.url, db)
    assert again.up_to_date and again.blocks == 0
    run_index(world.node.url, db, from_height=0, settings={"max_blocks": 25})
    assert all_rows(db) == before == all_rows(indexed[0])


def test_only_blocks_confirmations_deep_are_indexed(world, tmp_path):
    db = tmp_path / "x.duckdb"
    con = connect(db)
    result = index_btc(con, world.node.url, network="regtest")  # default: 6 confirmations
    con.close()
    assert result.to_block == world.btc.block_count() - 6
    assert query(db, "SELECT max(number) FROM blocks") == [(result.to_block,)]


def test_a_range_that_would_leave_a_gap_is_refused(world, tmp_path):
    db = tmp_path / "x.duckdb"
    run_index(world.node.url, db, to_height=20)
    with pytest.raises(InputError, match="would leave a gap: use --from-height 21"):
        run_index(world.node.url, db, from_height=40)


def test_a_node_of_another_network_is_refused(world, tmp_path):
    con = connect(tmp_path / "x.duckdb")
    with pytest.raises(InputError, match="serves Bitcoin regtest, not bitcoin"):
        index_btc(con, world.node.url, network="bitcoin")
    with pytest.raises(InputError, match="'bitcoin' is Bitcoin mainnet"):
        index_btc(con, world.node.url, chain="bitcoin", network="regtest")
    con.close()


def test_blk_files_give_the_same_rows_as_the_nodes_rpc(world, indexed, tmp_path):
    """Bitcoin Core's blk*.dat layout: records magic|size|block, obfuscated with xor.dat, blocks
    out of order across files, garbage between records."""
    btc = world.btc
    raws = [btc.raw_block(h) for h in btc.block_hashes(0, btc.block_count())]
    key = bytes.fromhex("1f2e3d4c5b6a7988")
    magic = bytes.fromhex("fabfb5da")  # regtest's network magic
    folder = tmp_path / "blocks"
    folder.mkdir()
    half = len(raws) // 2
    for number, part in enumerate((raws[half:], raws[:half])):  # children before parents
        plain = b"".join(magic + len(r).to_bytes(4, "little") + r + b"\x00junk" for r in part)
        obfuscated = bytes(b ^ key[i % 8] for i, b in enumerate(plain))
        (folder / f"blk{number:05d}.dat").write_bytes(obfuscated)
    (folder / "xor.dat").write_bytes(key)
    db = tmp_path / "files.duckdb"
    done = run_cli("index", "btc", "--blocks-dir", str(folder), "--network", "regtest",
                   "--confirmations", "0", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert f"indexed blocks 0-{len(raws) - 1} from {folder}" in done.stdout
    assert all_rows(db) == all_rows(indexed[0])
    assert query(db, "SELECT source, tracing FROM index_runs") == [
        (f"blocks-dir {folder}", "not needed")
    ]


# -- prevouts outside the range -----------------------------------------------------------------


def test_prevouts_below_the_range_are_fetched_with_getrawtransaction(world, indexed, tmp_path):
    db = tmp_path / "x.duckdb"
    start = world.first_scenario_block
    result = run_index(world.node.url, db, from_height=start)
    assert result.tracing == "getrawtransaction" and result.prevouts_fetched > 0
    assert result.unresolved_inputs == 0
    transfers = "SELECT * EXCLUDE (from_id, to_id) FROM btc_transfers ORDER BY ALL"  # ids: per store
    full = [r for r in query(indexed[0], transfers) if r[1] >= start]
    assert query(db, transfers) == full


def test_without_a_transaction_index_inputs_stay_unresolved_and_are_counted(world, tmp_path):
    def no_tx_index(request):  # what Bitcoin Core without -txindex answers
        items = request if isinstance(request, list) else [request]
        if all(item.get("method") == "getrawtransaction" for item in items):
            errors = [
                {"jsonrpc": "2.0", "id": item.get("id"), "error": {
                    "code": -5, "message": "No such mempool or blockchain transaction"}}
                for item in items
            ]
            import json

            return 200, json.dumps(errors if isinstance(request, list) else errors[0]).encode()
        return None

    db = tmp_path / "x.duckdb"
    messages = []
    start = world.first_scenario_block
    with RpcProxy(world.node.url, ProxyRules(intercept=no_tx_index)) as proxy:
        con = connect(db)
        result = index_btc(
            con, proxy.url, network="regtest", from_height=start,
            settings=BtcIndexSettings(confirmations=0),
            on_progress=lambda p: p.message and messages.append(p.message),
        )
        assert unresolved_inputs(con, CHAIN) == result.unresolved_inputs
        con.close()
    assert result.tracing == "none" and result.prevouts_fetched == 0
    # The fan-out spends coinbase coins mined below the range: unresolved, no transfers from it.
    assert result.unresolved_inputs > 0
    assert len(messages) == 1 and "no transaction index" in messages[0]
    assert query(db, "SELECT count(*) FROM btc_transfers WHERE txid = ?", [world.fanout_txid]) == [
        (0,)
    ]


def test_a_bcoin_node_without_its_transaction_index_is_detected(tmp_path):
    require_bcoin()
    with Bcoin("--index-tx=false") as node, node.chain() as btc:
        btc.mine(101)
        spend = btc.send([(btc.new_address(), 100_000_000)])
        btc.mine(1)
        db = tmp_path / "x.duckdb"
        result = run_index(node.url, db, from_height=101)
    assert (result.tracing, result.unresolved_inputs, result.prevouts_fetched) == ("none", 1, 0)
    assert query(db, "SELECT count(*) FROM btc_transfers WHERE txid = ?", [spend]) == [(0,)]


# -- reorganisations ----------------------------------------------------------------------------


def test_a_reorg_rolls_back_to_the_common_ancestor_and_reindexes(tmp_path):
    require_bcoin()
    with Bcoin() as node, node.chain() as btc:
        btc.mine(101)
        other = btc.new_address()
        abandoned = btc.send([(other, 500_000_000)])
        btc.mine(3)
        fork = btc.block_count() - 2  # the block holding `abandoned`
        db = tmp_path / "x.duckdb"
        run_index(node.url, db)
        old = dict(query(db, "SELECT number, hash FROM blocks"))
        assert query(db, "SELECT block_number FROM btc_txs WHERE txid = ?", [abandoned]) == [
            (fork,)
        ]

        btc.invalidate(old[fork])  # bcoin drops the branch's transactions (no mempool return)
        btc.mine(5, address=other)
        messages = []
        con = connect(db)
        result = index_btc(
            con, node.url, network="regtest", settings=BtcIndexSettings(confirmations=0),
            on_progress=lambda p: p.message and messages.append(p.message),
        )
        con.close()
        assert result.reorgs == 1 and messages == [f"reorganisation: rolled back to block {fork - 1}"]
        # bcoin drops the abandoned branch's transactions; wherever the node has it now (if its
        # wallet sent it again), the store has it there too.
        where = [(t.height,) for t in node_view(btc) if t.txid == abandoned]
        assert query(db, "SELECT block_number FROM btc_txs WHERE txid = ?", [abandoned]) == where
        stored = dict(query(db, "SELECT number, hash FROM blocks"))
        assert stored == dict(enumerate(btc.block_hashes(0, btc.block_count())))
        assert all(stored[n] == old[n] for n in range(fork))
        reference = tmp_path / "ref.duckdb"
        run_index(node.url, reference)
        assert all_rows(db) == all_rows(reference)


# -- failures -----------------------------------------------------------------------------------


def test_a_node_that_dies_mid_run_fails_naming_the_blocks_and_keeps_committed_work(tmp_path):
    require_bcoin()
    with Bcoin() as node, node.chain() as btc:
        btc.mine(80, address=btc.new_address())
        db = tmp_path / "x.duckdb"
        con = connect(db)
        batches = []

        def kill_after_two(p):
            batches.append(p.committed_block)
            if len(batches) == 2:
                node.kill()

        with pytest.raises(RpcError, match=r"blocks \d+-\d+ of bitcoin-regtest") as info:
            index_btc(
                con, RpcClient(node.url, retries=2, backoff=0.01), network="regtest",
                settings=BtcIndexSettings(confirmations=0, max_blocks=10),
                on_progress=kill_after_two,
            )
        assert info.value.block_range == (batches[-1] + 1, batches[-1] + 10)
        assert node.api_key not in str(info.value)
        assert con.execute("SELECT last_block FROM checkpoints").fetchall() == [(batches[-1],)]
        above = con.execute(
            "SELECT count(*) FROM btc_txs WHERE block_number > ?", [batches[-1]]
        ).fetchall()
        con.close()
        assert above == [(0,)]


def test_after_an_outage_a_rerun_completes_with_nothing_lost_or_duplicated(
    world, indexed, tmp_path
):
    state = {"down": False, "calls": 0}

    def outage(request):
        state["calls"] += 1
        if state["down"] or state["calls"] > 8:
            state["down"] = True
            return 503, b"service unavailable"
        return None

    db = tmp_path / "x.duckdb"
    with RpcProxy(world.node.url, ProxyRules(intercept=outage)) as proxy:
        with pytest.raises(RpcError, match="HTTP 503"):
            run_index(proxy.url, db, settings={"max_blocks": 10})
        assert 0 < query(db, "SELECT last_block FROM checkpoints")[0][0] < 100
        state["down"], state["calls"] = False, -(10**9)
        run_index(proxy.url, db, settings={"max_blocks": 10})
    assert all_rows(db) == all_rows(indexed[0])


def test_a_run_killed_with_sigkill_resumes_from_its_checkpoint(world, indexed, tmp_path):
    seen = threading.Event()
    count = {"getblock": 0}

    def count_blocks(request):
        items = request if isinstance(request, list) else [request]
        if items[0].get("method") == "getblock":
            count["getblock"] += 1
            if count["getblock"] >= 4:
                seen.set()
                threading.Event().wait(0.5)  # hold the run here until it is killed
        return None

    db = tmp_path / "x.duckdb"
    with RpcProxy(world.node.url, ProxyRules(intercept=count_blocks)) as proxy:
        args = ["index", "btc", "--rpc", proxy.url, "--network", "regtest", "--confirmations",
                "0", "--batch-blocks", "5", "--db", str(db)]
        process = subprocess.Popen(
            [sys.executable, "-m", "exposure", *args], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "CI": "true"},
        )
        try:
            assert seen.wait(60)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    committed = query(db, "SELECT last_block FROM checkpoints")
    assert committed and 0 < committed[0][0] < world.btc.block_count()
    done = run_cli(*args[:3], world.node.url, *args[4:])
    assert done.returncode == 0, done.stderr
    assert f"indexed blocks {committed[0][0] + 1}-" in done.stdout
    assert all_rows(db) == all_rows(indexed[0])


def test_the_api_key_never_appears_in_output_errors_or_the_database(world, tmp_path):
    key = world.node.api_key
    db = tmp_path / "x.duckdb"
    done = run_cli("index", "btc", "--rpc", world.node.url, "--network", "regtest",
                   "--confirmations", "0", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "indexed blocks 0-" in done.stdout and "transfers" in done.stdout
    wrong = run_cli("index", "btc", "--rpc", world.node.url, "--db", str(tmp_path / "y.duckdb"))
    assert wrong.returncode == 2 and "serves Bitcoin regtest" in wrong.stderr
    other_key = "Wr0ngKEY" + key[8:][::-1]
    refused = run_cli("index", "btc", "--rpc", world.node.url.replace(key, other_key),
                      "--network", "regtest", "--db", str(tmp_path / "z.duckdb"))
    assert refused.returncode == 5 and "HTTP 401" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and other_key not in refused.stderr
    for text in (done.stdout, done.stderr, wrong.stdout, wrong.stderr, refused.stderr):
        assert key not in text
    assert key.encode() not in db.read_bytes()
    sources = query(db, "SELECT source FROM index_runs")
    assert sources == [(f"http://127.0.0.1:{world.node.port}/",)]


# -- clusters, mining labels and screening on Bitcoin ----------------------------------------


@pytest.fixture(scope="module")
def labelled(world, indexed, tmp_path_factory):
    """A copy of the indexed world with clusters, mining labels and one labelled exchange
    address: the first input address of the 5-input consolidation."""
    import shutil

    from exposure.graph.clusters import compute_clusters
    from exposure.labels.catalog import ensure_shipped, import_labels
    from exposure.labels.mining import derive_mining_labels

    src, result = indexed
    folder = tmp_path_factory.mktemp("btc-screen")
    db = folder / "labelled.duckdb"
    shutil.copy(src, db)
    con = connect(db)
    chain = result.chain
    members = [r[0] for r in con.execute(
        "SELECT DISTINCT o.address FROM btc_inputs i JOIN btc_outputs o "
        "ON o.chain = i.chain AND o.txid = i.prev_txid AND o.vout = i.prev_vout "
        "WHERE i.txid = ? ORDER BY 1", [world.consolidation.spend_txid]).fetchall()]
    assert len(members) == 5
    counts = compute_clusters(con, chain)
    payouts = derive_mining_labels(con, chain)
    ensure_shipped(con)
    (folder / "x.yaml").write_text(
        "title: BTC test labels (demo data)\ncreator: tests\nsource: tests\n"
        f"confidence: ownership\nnetwork: {chain}\ncurrency: BTC\ntags:\n"
        f"- address: '{members[0]}'\n  label: Binance deposit (test)\n  actor: binance\n"
        "  category: exchange\n"
    )
    assert import_labels(con, [folder / "x.yaml"]).failed_files == ()
    con.close()
    return db, chain, members, counts, payouts


def test_the_consolidations_inputs_are_one_cluster_linked_by_its_spend(world, labelled):
    db, chain, members, counts, _ = labelled
    rows = query(db, "SELECT address, cluster, linked_by, size FROM btc_clusters WHERE chain = ? "
                     "AND address IN (SELECT unnest(?))", (chain, members))
    assert len({r[1] for r in rows}) == 1 and {r[3] for r in rows} == {5}
    assert {r[2] for r in rows} - {None} == {world.consolidation.spend_txid}
    assert counts["coinjoins"] == 0


def test_coinbase_payouts_are_mining_labels(labelled):
    db, chain, *_ , payouts = labelled
    assert payouts >= 1
    cats = query(db, "SELECT DISTINCT category FROM address_categories WHERE chain = ? AND "
                     "address IN (SELECT address FROM tags WHERE pack_id LIKE 'derived:%')", (chain,))
    assert ("mining_service",) in cats


def test_a_label_on_one_cluster_member_applies_to_the_cluster(labelled):
    from exposure.screening import Screener, ScreenOptions

    db, chain, members, *_ = labelled
    con = connect(db, read_only=True)
    try:
        entity = Screener(con).screen(members[3], chain=chain)
        plain = Screener(con, options=ScreenOptions(entities=False)).screen(members[3], chain=chain)
    finally:
        con.close()
    found = entity.exposure("mainland_exchange", "in")
    assert found.hops == 0 and found.actor == "binance"
    assert f"member {members[0]}" in found.label and "cluster of 5 addresses" in found.label
    assert plain.exposure("mainland_exchange", "in").hops is None


def test_screening_the_consolidations_recipient_shows_the_vout_evidence(world, labelled):
    from exposure.screening import Screener, ScreenOptions

    db, chain, members, *_ = labelled
    recipient = query(db, "SELECT address FROM btc_outputs WHERE txid = ? AND vout = 0",
                      (world.consolidation.spend_txid,))[0][0]
    con = connect(db, read_only=True)
    try:
        report = Screener(con, options=ScreenOptions(entities=False)).screen(recipient, chain=chain)
    finally:
        con.close()
    hop = report.exposure("mainland_exchange", "in").path[0]
    assert report.exposure("mainland_exchange", "in").hops == 1
    assert hop.tx_hash == world.consolidation.spend_txid and hop.vout == 0 and hop.asset == "BTC"
    assert hop.from_address == members[0]


def test_an_export_moves_a_bitcoin_chain_intact_and_index_btc_continues_after_it(
    world, indexed, tmp_path
):
    from exposure.indexers.bulk import ImportOptions, export_transfers, import_transfers

    db, _ = indexed
    con = connect(db, read_only=True)
    try:
        export_transfers(con, tmp_path / "moved")
    finally:
        con.close()
    target = tmp_path / "moved.duckdb"
    for _ in range(2):  # a second import changes nothing
        con = connect(target)
        try:
            import_transfers(con, [tmp_path / "moved"], "exposure", ImportOptions())
        finally:
            con.close()
        assert all_rows(target) == all_rows(db)
    # what the export covers is checkpointed: index btc finds nothing left to do
    result = run_index(world.node.url, target)
    assert result.blocks == 0
    assert all_rows(target) == all_rows(db)
