"""exposure.devchain against a real anvil node (started here, on 127.0.0.1).

Everything the scenario claims is checked with plain JSON-RPC: eth_getLogs, receipts, balances,
debug_traceBlockByNumber (callTracer) and trace_block. Skipped only when anvil cannot be found.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from exposure import devchain
from exposure.devchain import (
    MAX_UINT256,
    TRANSFER_TOPIC,
    ZERO_ADDRESS,
    Anvil,
    DevChain,
    DevChainError,
    NativeTransfer,
    RpcError,
    Scenario,
    TokenTransfer,
    TransactionFailed,
    encode_call,
    find_anvil,
    load_artifacts,
    seed_many_transfers,
    seed_scenario,
)


def _anvil_or_skip() -> str:
    try:
        return find_anvil()
    except FileNotFoundError as exc:
        pytest.skip(f"anvil not available: {exc}")


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    """One anvil for the read-only scenario checks."""
    _anvil_or_skip()
    with Anvil() as anvil:
        yield anvil


@pytest.fixture(scope="module")
def chain(node: Anvil) -> Iterator[DevChain]:
    with node.chain() as client:
        yield client


@pytest.fixture(scope="module")
def scenario(chain: DevChain) -> Scenario:
    return seed_scenario(chain)


@pytest.fixture
def fresh_chain() -> Iterator[DevChain]:
    """A new anvil of its own, for tests that change chain settings."""
    _anvil_or_skip()
    with Anvil() as anvil, anvil.chain() as client:
        yield client


def _int(value: str) -> int:
    return int(value, 16)


def _addr(topic: str) -> str:
    return "0x" + topic[-40:]


# ---- reference extractors (what an indexer must compute), written independently of devchain ------


def _native_from_call_tracer(chain: DevChain, first: int, last: int) -> list[NativeTransfer]:
    out: list[NativeTransfer] = []

    def walk(frame: dict[str, Any], tx: str, block: int, depth: int, failed: bool) -> None:
        failed = failed or "error" in frame
        value = _int(frame.get("value", "0x0"))
        if not failed and value > 0 and frame["type"] in ("CALL", "CREATE", "CREATE2"):
            out.append(
                NativeTransfer(block, tx, frame["from"], frame["to"], value, depth > 0, depth)
            )
        for sub in frame.get("calls", []):
            walk(sub, tx, block, depth + 1, failed)

    for block in range(first, last + 1):
        for item in chain.debug_trace_block(block):
            walk(item["result"], item["txHash"], block, 0, False)
    return out


def _native_from_trace_block(chain: DevChain, first: int, last: int) -> list[NativeTransfer]:
    out: list[NativeTransfer] = []
    for block in range(first, last + 1):
        traces = chain.trace_block(block)
        failed = {(t["transactionHash"], tuple(t["traceAddress"])) for t in traces if "error" in t}
        for t in traces:
            if t["type"] != "call" or t["action"].get("callType") != "call":
                continue
            path = tuple(t["traceAddress"])
            tx = t["transactionHash"]
            if any((tx, path[:i]) in failed for i in range(len(path) + 1)):
                continue
            value = _int(t["action"]["value"])
            if value > 0:
                action = t["action"]
                depth = len(path)
                out.append(
                    NativeTransfer(block, tx, action["from"], action["to"], value, depth > 0, depth)
                )
    return out


# ---- locating and running anvil -------------------------------------------------------------------


def test_find_anvil_bad_env_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPOSURE_ANVIL", "/nonexistent/anvil")
    with pytest.raises(FileNotFoundError, match="npm install @foundry-rs/anvil"):
        find_anvil()


def test_find_anvil_returns_native_binary() -> None:
    path = _anvil_or_skip()
    assert not path.endswith(".mjs")


def test_anvil_lifecycle_and_kill() -> None:
    _anvil_or_skip()
    with Anvil("--chain-id", "1337") as anvil:
        assert anvil.url == f"http://127.0.0.1:{anvil.port}"
        assert anvil.running
        chain = anvil.chain()
        assert chain.chain_id() == 1337
        assert len(chain.accounts) == 10
        assert chain.balance(chain.accounts[0]) == 10_000 * 10**18
        anvil.kill()  # a crash: no clean shutdown
        assert anvil.process is not None and anvil.process.returncode is not None
        assert not anvil.running
        with pytest.raises(requests.ConnectionError):
            chain.block_number()
    # stop() after kill() and a second __exit__ are harmless; nothing listens on the port any more
    anvil.stop()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
        sock.bind(("127.0.0.1", anvil.port))
        sock.listen()


def test_anvil_stop_is_clean() -> None:
    _anvil_or_skip()
    anvil = Anvil().start()
    process = anvil.process
    anvil.stop()
    assert process is not None and process.returncode is not None
    assert "stopped" in repr(anvil)


def test_anvil_bad_arguments_fail_fast() -> None:
    _anvil_or_skip()
    with pytest.raises(DevChainError, match="exited"):
        Anvil("--no-such-option", startup_timeout=10).start()


# ---- artifacts and encoding -----------------------------------------------------------------------


def test_artifacts_are_compiled_from_the_committed_sources() -> None:
    artifacts = load_artifacts()
    assert {"TestToken", "TestNFT", "Forwarder"} <= set(artifacts)
    contracts_dir = devchain.ARTIFACTS_PATH.parent
    for name, artifact in artifacts.items():
        source = (contracts_dir / artifact["source"]).read_bytes()
        assert hashlib.sha256(source).hexdigest() == artifact["source_sha256"], (
            f"{name}: artifacts.json is stale, run `node exposure/devchain/contracts/compile.mjs`"
        )
        assert artifact["bytecode"].startswith("0x60") and len(artifact["bytecode"]) > 100
        assert any(item.get("type") == "function" for item in artifact["abi"])


def test_batch_transfer_encoding_matches_eth_abi() -> None:
    recipients = ["0x" + f"{i:040x}" for i in range(1, 6)]
    amounts = [0, 1, 2**255, MAX_UINT256, 12345]
    expected = function_signature_to_4byte_selector("batchTransfer(address[],uint256[])") + (
        abi_encode(["address[]", "uint256[]"], [recipients, amounts])
    )
    assert devchain._encode_batch_transfer(recipients, amounts) == "0x" + expected.hex()
    assert encode_call("batchTransfer(address[],uint256[])", recipients, amounts) == (
        "0x" + expected.hex()
    )


def test_signature_parsing() -> None:
    assert devchain._parse_signature("f(address, (uint256,bool)[] ,bytes)(uint256)") == (
        "f(address,(uint256,bool)[],bytes)",
        ("address", "(uint256,bool)[]", "bytes"),
        ("uint256",),
    )
    with pytest.raises(ValueError):
        encode_call("transfer(address,uint256)", ZERO_ADDRESS)


# ---- the scenario, checked on chain ----------------------------------------------------------------


def test_scenario_erc20_logs_match_exactly(chain: DevChain, scenario: Scenario) -> None:
    logs = chain.get_logs(
        scenario.start_block,
        scenario.end_block,
        address=[scenario.usdt, scenario.usdc],
        topics=[TRANSFER_TOPIC],
    )
    found = [
        TokenTransfer(
            _int(log["blockNumber"]),
            log["transactionHash"],
            _int(log["logIndex"]),
            log["address"],
            _addr(log["topics"][1]),
            _addr(log["topics"][2]),
            _int(log["data"]),
        )
        for log in logs
    ]
    assert all(len(log["topics"]) == 3 for log in logs)
    assert found == list(scenario.token_transfers)
    assert len(found) == 20
    # every ERC-20-shaped Transfer log in the range belongs to the scenario's two tokens
    everything = chain.get_logs(scenario.start_block, scenario.end_block, topics=[TRANSFER_TOPIC])
    assert {log["address"] for log in everything if len(log["topics"]) == 3} == {
        scenario.usdt,
        scenario.usdc,
    }


def test_scenario_token_balances_follow_from_the_transfers(
    chain: DevChain, scenario: Scenario
) -> None:
    balances: dict[tuple[str, str], int] = defaultdict(int)
    for t in scenario.token_transfers:
        if t.from_address != ZERO_ADDRESS:
            balances[t.token, t.from_address] -= t.value
        balances[t.token, t.to_address] += t.value
    for (token, holder), expected in balances.items():
        assert chain.token_balance(token, holder) == expected, (token, holder)
    assert chain.call(scenario.usdt, "decimals()(uint8)") == 6
    assert chain.call(scenario.usdc, "symbol()(string)") == "USDC"


def test_scenario_max_value_and_zero_value_logs(chain: DevChain, scenario: Scenario) -> None:
    receipt = chain.receipt(scenario.max_value_transfer_tx)
    assert receipt is not None
    (log,) = receipt["logs"]
    assert log["data"] == "0x" + "ff" * 32
    assert _addr(log["topics"][1]) == scenario.max_value_holder
    assert _addr(log["topics"][2]) == scenario.max_value_recipient
    mint = chain.receipt(scenario.max_value_mint_tx)
    assert mint is not None and _addr(mint["logs"][0]["topics"][1]) == ZERO_ADDRESS
    assert chain.token_balance(scenario.usdt, scenario.max_value_recipient) == MAX_UINT256
    zero = chain.receipt(scenario.zero_value_tx)
    assert zero is not None and zero["logs"][0]["data"] == "0x" + "00" * 32


def test_scenario_transfer_from_is_logged_for_the_owner(
    chain: DevChain, scenario: Scenario
) -> None:
    receipt = chain.receipt(scenario.transfer_from_tx)
    assert receipt is not None
    transfer = next(t for t in scenario.token_transfers if t.tx_hash == scenario.transfer_from_tx)
    assert receipt["from"] != transfer.from_address  # the spender sent it, the owner paid


def test_scenario_nft_logs_have_four_topics(chain: DevChain, scenario: Scenario) -> None:
    logs = chain.get_logs(
        scenario.start_block, scenario.end_block, address=scenario.nft, topics=[TRANSFER_TOPIC]
    )
    assert len(logs) == len(scenario.nft_transfers) == 4
    for log, expected in zip(logs, scenario.nft_transfers, strict=True):
        assert len(log["topics"]) == 4
        assert log["data"] == "0x"
        assert log["topics"][0] == TRANSFER_TOPIC
        assert _int(log["topics"][3]) == expected.token_id
        assert log["transactionHash"] == expected.tx_hash
        assert _int(log["logIndex"]) == expected.log_index
    assert chain.call(scenario.nft, "ownerOf(uint256)(address)", 1) == scenario.fresh_addresses[0]


def test_scenario_multi_transaction_block(chain: DevChain, scenario: Scenario) -> None:
    block = chain.block(scenario.multi_tx_block)
    assert len(block["transactions"]) == 4
    in_block = [t for t in scenario.token_transfers if t.block_number == scenario.multi_tx_block]
    assert [t.log_index for t in in_block] == list(range(6))  # log indexes are block-wide
    assert len({t.tx_hash for t in in_block}) == 4


def test_scenario_empty_blocks_and_range(chain: DevChain, scenario: Scenario) -> None:
    assert scenario.start_block == 1
    assert scenario.end_block == chain.block_number()
    assert len(scenario.empty_blocks) >= 10
    for number in scenario.empty_blocks:
        assert scenario.start_block <= number <= scenario.end_block
        assert chain.block(number)["transactions"] == []
    hashes = [h for n in range(0, scenario.end_block + 1) for h in chain.block(n)["transactions"]]
    assert list(scenario.tx_hashes) == hashes


def test_scenario_reverted_tx(chain: DevChain, scenario: Scenario) -> None:
    receipt = chain.receipt(scenario.reverted_tx)
    assert receipt is not None
    assert receipt["status"] == "0x0"
    assert receipt["logs"] == []
    (frame,) = [
        item["result"]
        for item in chain.debug_trace_block(_int(receipt["blockNumber"]))
        if item["txHash"] == scenario.reverted_tx
    ]
    assert frame["error"] == "execution reverted"
    assert _int(frame["value"]) == 10**18
    # the inner call carries value and no error of its own: only the ancestor's error voids it
    (inner,) = frame["calls"]
    assert "error" not in inner and _int(inner["value"]) == 10**18
    assert all(t.tx_hash != scenario.reverted_tx for t in scenario.native_transfers)


def test_scenario_failed_internal_call(chain: DevChain, scenario: Scenario) -> None:
    receipt = chain.receipt(scenario.failed_internal_tx)
    assert receipt is not None and receipt["status"] == "0x1"
    trace = chain.debug_trace_transaction(scenario.failed_internal_tx)
    (inner,) = trace["calls"]
    assert inner["error"] == "execution reverted" and inner["to"] == scenario.usdt
    moves = [t for t in scenario.native_transfers if t.tx_hash == scenario.failed_internal_tx]
    assert [(m.to_address, m.internal) for m in moves] == [(scenario.forwarder, False)]
    assert chain.balance(scenario.usdt) == 0


def test_scenario_native_transfers_match_call_tracer(chain: DevChain, scenario: Scenario) -> None:
    found = _native_from_call_tracer(chain, scenario.start_block, scenario.end_block)
    assert found == list(scenario.native_transfers)
    assert max(t.depth for t in found) == 2
    assert Counter(t.internal for t in found) == {False: 6, True: 5}


def test_scenario_native_transfers_match_trace_block(chain: DevChain, scenario: Scenario) -> None:
    found = _native_from_trace_block(chain, scenario.start_block, scenario.end_block)
    assert found == list(scenario.native_transfers)


def test_scenario_eth_balances(chain: DevChain, scenario: Scenario) -> None:
    received: dict[str, int] = defaultdict(int)
    for t in scenario.native_transfers:
        received[t.to_address] += t.value
        received[t.from_address] -= t.value
    for address in scenario.fresh_addresses:
        assert chain.balance(address) == received[address]
    assert chain.balance(scenario.fresh_addresses[0]) == 10**18  # not 2: the revert did not pay
    assert chain.balance(scenario.forwarder) == received[scenario.forwarder] > 0
    assert chain.balance(scenario.forwarder_b) == 0


def test_nested_call_tree_depth(chain: DevChain, scenario: Scenario) -> None:
    trace = chain.debug_trace_transaction(scenario.nested_tx)
    (middle,) = trace["calls"]
    assert middle["to"] == scenario.forwarder_b
    assert [leaf["to"] for leaf in middle["calls"]] == list(scenario.fresh_addresses[3:5])
    receipt = chain.receipt(scenario.nested_tx)
    assert receipt is not None
    flat = chain.trace_block(_int(receipt["blockNumber"]))
    assert [t["traceAddress"] for t in flat] == [[], [0], [0, 0], [0, 1]]


def test_scenario_is_frozen_and_repeatable(chain: DevChain, scenario: Scenario) -> None:
    with pytest.raises(AttributeError):
        scenario.usdt = "0x"  # type: ignore[misc]
    snapshot = chain.snapshot()
    try:
        again = seed_scenario(chain)
        assert again.usdt != scenario.usdt
        assert len(again.token_transfers) == len(scenario.token_transfers)
        assert again.native_transfers[0].value == scenario.native_transfers[0].value
    finally:
        assert chain.revert(snapshot)
    assert chain.block_number() == scenario.end_block


# ---- send_many, mining, snapshots -----------------------------------------------------------------


def test_send_many_plays_many_transactions_in_few_blocks(fresh_chain: DevChain) -> None:
    accounts = fresh_chain.accounts
    before = fresh_chain.block_number()
    txs = [
        {"from": accounts[i % 3], "to": accounts[3 + i % 5], "value": i + 1, "gas": 21_000}
        for i in range(900)
    ]
    hashes = fresh_chain.send_many(txs, check_status=True)
    assert len(hashes) == len(set(hashes)) == 900
    receipts = fresh_chain.receipts(hashes)
    for tx_hash, receipt, tx in zip(hashes, receipts, txs, strict=True):
        assert receipt is not None and receipt["transactionHash"] == tx_hash
        assert receipt["from"] == tx["from"]
    blocks = {_int(r["blockNumber"]) for r in receipts if r}
    assert min(blocks) == before + 1 and len(blocks) == 1  # 900 x 21,000 gas fit in one block
    assert fresh_chain.automine()
    # automine is back: a single send is mined at once
    assert fresh_chain.receipt(fresh_chain.transfer_eth(accounts[9], 1)) is not None


def test_send_many_reports_refused_transactions(fresh_chain: DevChain) -> None:
    a = fresh_chain.accounts
    with pytest.raises(ValueError, match="gas"):
        fresh_chain.send_many([{"from": a[0], "to": a[1], "value": 1}])
    txs = [
        {"from": a[0], "to": a[1], "value": 1, "gas": 21_000},
        {"from": a[0], "to": a[1], "value": 1, "gas": 1_000},  # below intrinsic gas: refused
    ]
    with pytest.raises(DevChainError, match="1 of 2 transactions were refused"):
        fresh_chain.send_many(txs)
    assert fresh_chain.automine()
    pool = fresh_chain.rpc("txpool_status")
    assert pool == {"pending": "0x0", "queued": "0x0"}


def test_rpc_errors_and_batches(fresh_chain: DevChain) -> None:
    with pytest.raises(RpcError) as info:
        fresh_chain.rpc("no_such_method")
    assert info.value.code == -32601
    results = fresh_chain.rpc_batch(
        [("eth_blockNumber", []), ("no_such_method", []), ("eth_chainId", None)],
        raise_errors=False,
    )
    assert results[0] == "0x0" and isinstance(results[1], RpcError) and results[2] == "0x7a69"
    # a batch larger than anvil's 2 MiB request limit is split transparently
    big = [("eth_call", [{"to": ZERO_ADDRESS, "data": "0x" + "00" * 40_000}, "latest"])] * 80
    assert fresh_chain.rpc_batch(big) == ["0x"] * 80


def test_mine_snapshot_revert(fresh_chain: DevChain) -> None:
    start = fresh_chain.block_number()
    snapshot = fresh_chain.snapshot()
    assert fresh_chain.mine(5) == start + 5
    assert fresh_chain.revert(snapshot)
    assert fresh_chain.block_number() == start


def test_transact_revert_and_deploy(fresh_chain: DevChain) -> None:
    token = fresh_chain.deploy("TestToken", "T", "T", 18)
    assert token.startswith("0x") and token == token.lower()
    a = fresh_chain.accounts
    # anvil does not estimate gas for eth_sendTransaction: failing transactions are mined
    with pytest.raises(TransactionFailed) as info:
        fresh_chain.transact(token, "transfer(address,uint256)", a[2], 5, sender=a[1])
    assert info.value.receipt["status"] == "0x0"
    with pytest.raises(TransactionFailed):  # owner-only mint
        fresh_chain.transact(token, "mint(address,uint256)", a[1], 5, sender=a[1], gas=100_000)
    tx_hash = fresh_chain.transact(
        token, "transfer(address,uint256)", a[2], 5, sender=a[1], expect_success=False
    )
    assert fresh_chain.receipt(tx_hash)["status"] == "0x0"  # type: ignore[index]
    with pytest.raises(RpcError, match="revert"):  # eth_estimateGas does see the revert
        fresh_chain.rpc(
            "eth_estimateGas",
            [{"from": a[1], "to": token, "data": encode_call("mint(address,uint256)", a[1], 5)}],
        )
    fresh_chain.transact(token, "mint(address,uint256)", a[1], MAX_UINT256)
    fresh_chain.transact(token, "mint(address,uint256)", a[2], 2)  # totalSupply wraps
    assert fresh_chain.call(token, "totalSupply()(uint256)") == 1
    assert fresh_chain.call(token, "owner()(address)") == a[0]
    raw = fresh_chain.call(token, "name()")
    assert isinstance(raw, str) and raw.startswith("0x")


# ---- many transfers ------------------------------------------------------------------------------


def test_seed_many_transfers_20000(fresh_chain: DevChain) -> None:
    token = fresh_chain.deploy("TestToken", "Bulk", "BULK", 6)
    first = fresh_chain.block_number() + 1
    last = seed_many_transfers(fresh_chain, token, 20_000)
    assert last == fresh_chain.block_number()
    logs = fresh_chain.get_logs(first, last, address=token, topics=[TRANSFER_TOPIC])
    assert len(logs) == 20_000
    assert _addr(logs[0]["topics"][1]) == ZERO_ADDRESS  # the mint comes first
    owner = fresh_chain.accounts[0]
    assert all(_addr(log["topics"][1]) == owner for log in logs[1:])
    assert len({log["topics"][2] for log in logs[1:]}) == 19_999
    assert sum(_int(log["data"]) for log in logs[1:]) == _int(logs[0]["data"])
    assert fresh_chain.token_balance(token, owner) == 0
    # the block gas limit was raised for the seeding only
    assert _int(fresh_chain.block(last)["gasLimit"]) > 30_000_000
    fresh_chain.mine(1)
    assert _int(fresh_chain.block("latest")["gasLimit"]) == 30_000_000


def test_seed_many_transfers_is_deterministic(fresh_chain: DevChain) -> None:
    token = fresh_chain.deploy("TestToken", "Bulk", "BULK", 6)
    first = fresh_chain.block_number() + 1

    def play(seed: int) -> list[tuple[str, ...]]:
        snapshot = fresh_chain.snapshot()
        last = seed_many_transfers(
            fresh_chain, token, 501, per_tx=50, seed=seed, logs_per_block=None
        )
        logs = fresh_chain.get_logs(first, last, address=token)
        fresh_chain.revert(snapshot)
        return [(*log["topics"], log["data"]) for log in logs]

    one, two, other = play(7), play(7), play(8)
    assert len(one) == 501 and one == two and one != other
    assert json.dumps(one) != json.dumps(other)
