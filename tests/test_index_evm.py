"""The EVM indexer against a real anvil node running real ERC-20 bytecode.

Each test states one behaviour a user relies on: exact rows, exactly once, across tracing
dialects, log-range limits, confirmations, reorganisations and dead nodes.
"""

from __future__ import annotations

from collections import Counter

import pytest

from exposure.devchain import DevChain, Scenario, seed_scenario
from exposure.domain import ChainSpec, Token
from exposure.errors import InputError, RpcError
from exposure.indexers.evm import IndexSettings, index_evm
from exposure.indexers.rpc import RpcClient
from exposure.store import connect
from tests.conftest import comparable_rows
from tests.proxy import ProxyRules, RpcProxy


def spec_for(s: Scenario) -> ChainSpec:
    return ChainSpec(
        "devchain", None, "ETH", 18, (Token("USDT", s.usdt, 6), Token("USDC", s.usdc, 6))
    )


def run_index(url, db, s: Scenario, **settings):
    con = connect(db)
    try:
        opts = {"confirmations": 0, **settings}
        return index_evm(
            con,
            RpcClient(url, retries=1, backoff=0.01),
            chain=spec_for(s),
            settings=IndexSettings(**opts),
        )
    finally:
        con.close()


def token_rows(db) -> Counter:
    con = connect(db)
    rows = con.execute(
        "SELECT tx_hash, log_index, token_address, from_address, to_address, "
        "coalesce(CAST(amount_raw AS VARCHAR), CAST(amount_raw_big AS VARCHAR)) "
        "FROM token_transfers"
    ).fetchall()
    con.close()
    return Counter((t, i, tok, f, to, int(a)) for t, i, tok, f, to, a in rows)


def native_rows(db) -> Counter:
    con = connect(db)
    rows = con.execute(
        "SELECT tx_hash, from_address, to_address, CAST(amount_raw AS VARCHAR) FROM native_transfers"
    ).fetchall()
    con.close()
    return Counter((t, f, to, int(a)) for t, f, to, a in rows)


def expected_tokens(s: Scenario) -> Counter:
    return Counter(
        (t.tx_hash, t.log_index, t.token, t.from_address, t.to_address, t.value)
        for t in s.token_transfers
    )


def expected_native(s: Scenario, *, internal: bool = True) -> Counter:
    return Counter(
        (n.tx_hash, n.from_address, n.to_address, n.value)
        for n in s.native_transfers
        if internal or not n.internal
    )


def all_rows(db) -> dict[str, list]:
    con = connect(db)
    out = {
        table: comparable_rows(con, table)
        for table in ("blocks", "token_transfers", "native_transfers")
    }
    out["checkpoints"] = con.execute(
        "SELECT chain, stream, first_block, last_block FROM checkpoints ORDER BY ALL"
    ).fetchall()
    con.close()
    return out


# -- what gets indexed --------------------------------------------------------------------------


def test_every_erc20_and_eth_transfer_of_the_scenario_is_indexed_exactly(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    result = run_index(anvil.url, db, scenario)
    assert result.tracing == "trace_block"
    assert token_rows(db) == expected_tokens(scenario)
    assert native_rows(db) == expected_native(scenario)


def test_the_max_uint256_transfer_is_kept_exactly_and_zero_value_too(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    run_index(anvil.url, db, scenario)
    amounts = {row[0]: row[5] for row in token_rows(db)}
    assert amounts[scenario.max_value_transfer_tx] == 2**256 - 1
    assert amounts[scenario.zero_value_tx] == 0
    con = connect(db)
    big = con.execute(
        "SELECT amount_raw, amount, CAST(amount_raw_big AS VARCHAR) FROM transfers "
        "WHERE tx_hash = ?",
        [scenario.max_value_transfer_tx],
    ).fetchall()
    con.close()
    assert big[0][0] is None and big[0][2] == str(2**256 - 1)
    assert big[0][1] == pytest.approx((2**256 - 1) / 10**6)


def test_nft_transfers_and_reverted_transactions_create_no_rows(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    run_index(anvil.url, db, scenario)
    txs = {row[0] for row in token_rows(db)} | {row[0] for row in native_rows(db)}
    assert scenario.reverted_tx not in txs
    assert not {n.tx_hash for n in scenario.nft_transfers} & {row[0] for row in token_rows(db)}


def test_the_transfers_view_has_assets_decimals_and_block_times(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    run_index(anvil.url, db, scenario)
    con = connect(db)
    assets = dict(con.execute("SELECT asset, count(*) FROM transfers GROUP BY 1").fetchall())
    nulls = con.execute(
        "SELECT count(*) FROM transfers WHERE block_time IS NULL OR amount IS NULL"
    ).fetchall()[0][0]
    con.close()
    assert set(assets) == {"ETH", "USDT", "USDC"}
    assert nulls == 0


def test_debug_trace_is_used_when_trace_block_is_not_offered(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    with RpcProxy(anvil.url, ProxyRules(hidden_methods={"trace_block"})) as proxy:
        result = run_index(proxy.url, db, scenario)
    assert result.tracing == "debug_traceBlockByNumber"
    assert native_rows(db) == expected_native(scenario)


def test_without_tracing_logs_and_successful_transaction_values_are_still_indexed(
    anvil, scenario, tmp_path
):
    db = tmp_path / "x.duckdb"
    rules = ProxyRules(hidden_methods={"trace_block", "debug_traceBlockByNumber"})
    messages = []
    con = connect(db)
    with RpcProxy(anvil.url, rules) as proxy:
        result = index_evm(
            con,
            proxy.url,
            chain=spec_for(scenario),
            settings=IndexSettings(confirmations=0),
            on_progress=lambda p: p.message and messages.append(p.message),
        )
    con.close()
    assert result.tracing == "none"
    assert messages.count("node offers no tracing: internal ETH transfers not indexed") == 1
    assert token_rows(db) == expected_tokens(scenario)
    assert native_rows(db) == expected_native(scenario, internal=False)


def test_a_range_without_transfers_commits_blocks_and_no_rows(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    empty = scenario.empty_blocks[0]
    con = connect(db)
    result = index_evm(
        con,
        anvil.url,
        chain=spec_for(scenario),
        from_block=empty,
        to_block=empty,
        settings=IndexSettings(confirmations=0),
    )
    con.close()
    assert (result.blocks, result.token_transfers, result.native_transfers) == (1, 0, 0)
    assert all_rows(db)["checkpoints"][0][2:] == (empty, empty)


# -- exactly once -----------------------------------------------------------------------------


def test_a_rerun_is_a_no_op_and_reindexing_a_range_leaves_the_same_rows(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    run_index(anvil.url, db, scenario)
    before = all_rows(db)
    again = run_index(anvil.url, db, scenario)
    assert again.up_to_date and again.blocks == 0
    con = connect(db)
    index_evm(
        con,
        anvil.url,
        chain=spec_for(scenario),
        from_block=0,
        settings=IndexSettings(confirmations=0, max_native_blocks=7),
    )
    con.close()
    assert all_rows(db) == before


def test_eth_getlogs_ranges_split_when_the_node_limits_results(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    with RpcProxy(anvil.url, ProxyRules(max_log_span=3)) as proxy:
        run_index(proxy.url, db, scenario)
    assert token_rows(db) == expected_tokens(scenario)


def test_only_blocks_confirmations_deep_are_indexed(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    head = DevChain(anvil.url).block_number()
    result = run_index(anvil.url, db, scenario, confirmations=5)
    assert result.to_block == head - 5
    assert all_rows(db)["blocks"][-1][1] == head - 5


def test_a_range_that_would_leave_a_gap_is_refused(anvil, scenario, tmp_path):
    db = tmp_path / "x.duckdb"
    con = connect(db)
    index_evm(
        con,
        anvil.url,
        chain=spec_for(scenario),
        to_block=5,
        settings=IndexSettings(confirmations=0),
    )
    with pytest.raises(InputError, match="would leave a gap"):
        index_evm(
            con,
            anvil.url,
            chain=spec_for(scenario),
            from_block=20,
            settings=IndexSettings(confirmations=0),
        )
    con.close()


def test_a_node_of_another_chain_is_refused(anvil, tmp_path):
    con = connect(tmp_path / "x.duckdb")
    with pytest.raises(InputError, match="serves chain id 31337"):
        index_evm(con, anvil.url, chain="ethereum")
    con.close()


# -- reorganisations ----------------------------------------------------------------------------


def test_a_reorg_rolls_back_to_the_common_ancestor_and_reindexes(anvil, chain, tmp_path):
    first = seed_scenario(chain)
    fork_point = chain.block_number()
    snap = chain.snapshot()
    second = seed_scenario(chain)  # the branch that will be abandoned
    db = tmp_path / "x.duckdb"
    spec = ChainSpec(
        "devchain", None, "ETH", 18, (Token("USDT", first.usdt, 6), Token("USDT2", second.usdt, 6))
    )
    con = connect(db)
    index_evm(con, anvil.url, chain=spec, settings=IndexSettings(confirmations=0))
    old_hashes = dict(con.execute("SELECT number, hash FROM blocks").fetchall())
    assert any(t.token == second.usdt for t in second.token_transfers)

    chain.revert(snap)
    # A different branch: the deployer's nonce moves, so other contracts and transactions follow.
    chain.transfer_eth(first.fresh_addresses[0], 1, sender=first.deployer)
    third = seed_scenario(chain)
    assert third.usdt != second.usdt
    assert chain.block_number() > max(old_hashes)
    result = index_evm(con, anvil.url, chain=spec, settings=IndexSettings(confirmations=0))
    con.close()

    assert result.reorgs == 1
    rows = token_rows(db)
    assert rows == Counter(
        {k: v for k, v in expected_tokens(first).items() if k[2] == first.usdt}
    )  # the abandoned branch's USDT2 transfers are gone, the common history kept
    natives = native_rows(db)
    assert not {n.tx_hash for n in second.native_transfers} & {r[0] for r in natives}
    assert expected_native(third) <= natives
    node_hashes = {n: chain.block(n)["hash"] for n in range(chain.block_number() + 1)}
    con = connect(db)
    stored = dict(con.execute("SELECT number, hash FROM blocks").fetchall())
    con.close()
    assert stored == node_hashes
    assert all(stored[n] == old_hashes[n] for n in range(fork_point + 1))


# -- failures ---------------------------------------------------------------------------------


def test_a_node_that_dies_mid_run_fails_naming_the_blocks_and_keeps_committed_work(
    anvil, chain, tmp_path
):
    s = seed_scenario(chain)
    chain.mine(300)
    db = tmp_path / "x.duckdb"
    con = connect(db)
    batches = []

    def kill_after_two(p):
        batches.append(p.committed_block)
        if len(batches) == 2:
            anvil.kill()

    with pytest.raises(RpcError, match=r"blocks \d+-\d+") as info:
        index_evm(
            con,
            RpcClient(anvil.url, retries=2, backoff=0.01),
            chain=spec_for(s),
            settings=IndexSettings(confirmations=0, max_native_blocks=50),
            on_progress=kill_after_two,
        )
    assert info.value.block_range is not None
    checkpoint = con.execute("SELECT min(last_block) FROM checkpoints").fetchall()[0][0]
    assert checkpoint == batches[-1]
    above = con.execute("SELECT count(*) FROM blocks WHERE number > ?", [checkpoint]).fetchall()[0][
        0
    ]
    con.close()
    assert above == 0


def test_after_the_node_comes_back_a_rerun_completes_with_nothing_lost_or_duplicated(
    anvil, chain, tmp_path
):
    s = seed_scenario(chain)
    chain.mine(200)
    reference = tmp_path / "ref.duckdb"
    run_index(anvil.url, reference, s)

    down = {"on": False}
    calls = {"n": 0}

    def maybe_down(request):
        calls["n"] += 1
        if down["on"] or calls["n"] > 6:
            down["on"] = True
            return 503, b"service unavailable"
        return None

    db = tmp_path / "x.duckdb"
    with RpcProxy(anvil.url, ProxyRules(intercept=maybe_down)) as proxy:
        with pytest.raises(RpcError, match="HTTP 503"):
            run_index(proxy.url, db, s, max_native_blocks=40)
        down["on"], calls["n"] = False, -(10**9)
        run_index(proxy.url, db, s, max_native_blocks=40)
    assert all_rows(db) == all_rows(reference)
