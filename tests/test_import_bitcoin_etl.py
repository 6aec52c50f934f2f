"""bitcoin-etl dumps imported into the Bitcoin tables give the indexer's rows.

The dump is made by the real tool: ``bitcoinetl export_blocks_and_transactions`` (PyPI
bitcoin-etl, in its own venv, :func:`tests.etl_tools.tool_venv`) against a bcoin regtest node on
127.0.0.1 that played payouts, an OP_RETURN, change, P2PKH/P2WPKH/P2SH-P2WPKH addresses and
multi-input consolidations. The same chain indexed by ``index_btc`` is the oracle.

bcoin speaks Bitcoin Core's RPC with two differences that bitcoin-etl meets, translated by a
proxy (:func:`core_dialect`) in front of the node: ``getblock <hash> 2`` (verbosity 2) is refused
("Param must be a boolean") and is asked as ``getblock <hash> true true``; its verbose block has
no ``nonce`` and gives ``bits`` as a number, so both are put in from the raw header, as Core
writes them. Its regtest addresses (``R...``, ``rb1...``) are replaced by Core's (from the
scriptPubKey, with bitcoinlib's encoders: :func:`tests.test_index_btc.core_regtest_address`).
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from exposure.devchain.bitcoin import Bcoin, BtcDevChain
from exposure.errors import DataError, InputError
from exposure.indexers.bitcoin.indexer import BtcIndexSettings, index_btc
from exposure.indexers.bulk.bitcoin_etl import import_bitcoin_etl
from exposure.indexers.bulk.model import ImportOptions, ImportProgress
from exposure.store import connect
from tests.conftest import comparable_rows, require_bcoin
from tests.etl_tools import tool_venv
from tests.proxy import ProxyRules, RpcProxy
from tests.test_index_btc import core_regtest_address

CHAIN = "bitcoin-regtest"
BITCOIN_ETL = ["bitcoin-etl==1.5.2"]
TABLES = ("blocks", "btc_txs", "btc_outputs", "btc_inputs", "btc_prevouts", "btc_transfers")



def core_dialect(upstream: str) -> Any:
    """A proxy intercept that answers bitcoin-etl's calls in Bitcoin Core's dialect from bcoin."""
    session = requests.Session()

    def intercept(request: Any) -> tuple[int, bytes]:
        items = request if isinstance(request, list) else [request]
        calls = []
        for item in items:
            params = item.get("params") or []
            if item.get("method") == "getblock" and len(params) == 2 and params[1] == 2:
                calls.append({**item, "params": [params[0], True, True]})
                calls.append({**item, "id": "raw", "params": [params[0], False]})
            else:
                calls.append(item)
        answers = session.post(upstream, json=calls, timeout=60).json()
        if isinstance(answers, dict):
            answers = [answers]
        out = []
        k = 0
        for item in items:
            answer = answers[k]
            k += 1
            params = item.get("params") or []
            if item.get("method") == "getblock" and len(params) == 2 and params[1] == 2:
                raw = bytes.fromhex(answers[k]["result"][:160])
                k += 1
                if answer.get("result"):
                    answer["result"]["nonce"] = int.from_bytes(raw[76:80], "little")
                    answer["result"]["bits"] = raw[72:76][::-1].hex()
            answer["id"] = item.get("id")
            result = answer.get("result")
            for tx in (result.get("tx", [result]) if isinstance(result, dict) else []):
                for vout in tx.get("vout", []) if isinstance(tx, dict) else []:
                    script = vout["scriptPubKey"]
                    address = core_regtest_address(script["hex"])
                    script["addresses"] = [address] if address else []
            out.append(answer)
        return 200, json.dumps(out if isinstance(request, list) else out[0]).encode()

    return intercept


@dataclass(frozen=True)
class Dump:
    """The node, the exported range and the dump's files."""

    node: Bcoin
    last: int
    blocks: Path
    transactions: Path
    export_seconds: float

    @property
    def files(self) -> list[Path]:
        return [self.blocks, self.transactions]


def play_history(btc: BtcDevChain) -> None:
    """Payouts, change, an OP_RETURN, segwit and nested segwit addresses, consolidations."""
    btc.activate_segwit()  # also matures the first coinbases
    btc.create_wallet("exchange", witness=True)
    native = [btc.new_address("exchange") for _ in range(2)]
    nested = btc.new_address("exchange", nested=True)
    btc.create_wallet("alice")
    alice = btc.new_address("alice")
    btc.send([(native[0], 30_000_000), (nested, 20_000_000), (alice, 5_000_000)])
    btc.send([(native[1], 7_000_000)], scripts=[(bytes.fromhex("6a0b6578706f7375726520746573"), 0)])
    btc.mine(1)
    btc.wait_balance("exchange", 57_000_000)
    btc.consolidate(3, 2_000_000, wallet="cluster", to_address=alice)
    btc.mine(1)
    btc.send([(alice, 40_000_000)], wallet="exchange")  # spends segwit and nested inputs
    btc.mine(1)
    btc.consolidate(2, 1_500_000, wallet="segwit-cluster", to_address=native[0], witness=True)
    btc.mine(2)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dump]:
    require_bcoin()
    tool = tool_venv("bitcoin-etl", "3.11", BITCOIN_ETL) / "bitcoinetl"
    folder = tmp_path_factory.mktemp("bitcoin-etl")
    with Bcoin() as node, node.chain() as btc:
        play_history(btc)
        last = btc.block_count()
        with RpcProxy(node.url, ProxyRules(intercept=core_dialect(node.url))) as proxy:
            started = time.monotonic()
            done = subprocess.run(
                [str(tool), "export_blocks_and_transactions", "--start-block", "0",
                 "--end-block", str(last), "--provider-uri", proxy.url, "--chain", "bitcoin",
                 "--blocks-output", str(folder / "blocks.json"),
                 "--transactions-output", str(folder / "transactions.json")],
                capture_output=True, text=True, timeout=300, check=False,
            )
            seconds = time.monotonic() - started
        assert done.returncode == 0, done.stderr[-3000:]
        yield Dump(node, last, folder / "blocks.json", folder / "transactions.json", seconds)


def snapshot(con: Any) -> dict[str, list[tuple]]:
    """Every Bitcoin table, the transfers view and the checkpoint, sorted."""
    out = {t: comparable_rows(con, t) for t in TABLES}
    out["transfers"] = con.execute(
        "SELECT * EXCLUDE (from_id, to_id) FROM transfers WHERE chain = ? ORDER BY ALL", [CHAIN]
    ).fetchall()
    out["checkpoints"] = con.execute(
        "SELECT chain, stream, first_block, last_block FROM checkpoints ORDER BY ALL"
    ).fetchall()
    return out


def index(con: Any, dump: Dump, to_height: int | None = None) -> Any:
    return index_btc(
        con, dump.node.url, network="regtest", to_height=dump.last if to_height is None
        else to_height, settings=BtcIndexSettings(confirmations=0),
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def part(dump: Dump, folder: Path, lo: int, hi: int) -> list[Path]:
    """The dump's blocks lo..hi as their own files (what an export of that range writes)."""
    folder.mkdir(exist_ok=True)
    blocks = [b for b in lines(dump.blocks) if lo <= b["number"] <= hi]
    txs = [t for t in lines(dump.transactions) if lo <= t["block_number"] <= hi]
    return [write_lines(folder / "blocks.json", blocks),
            write_lines(folder / "transactions.json", txs)]


@pytest.fixture(scope="module")
def indexed(dump: Dump, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """The oracle: the same chain indexed over RPC."""
    con = connect(tmp_path_factory.mktemp("oracle") / "rpc.duckdb")
    index(con, dump)
    return snapshot(con)


def test_import_gives_the_indexers_rows(dump: Dump, indexed: dict, tmp_path: Path) -> None:
    con = connect(tmp_path / "import.duckdb")
    progress: list[ImportProgress] = []
    started = time.monotonic()
    result = import_bitcoin_etl(
        con, dump.files, ImportOptions(network="regtest", on_progress=progress.append)
    )
    seconds = time.monotonic() - started
    got = snapshot(con)
    assert result.chain == CHAIN and result.rejected == 0
    assert [(c.first, c.last) for c in result.coverage] == [(0, dump.last)]
    assert progress and progress[-1].done == progress[-1].total
    for table in ("blocks", "btc_txs", "btc_outputs", "btc_inputs", "btc_transfers",
                  "transfers", "checkpoints"):
        assert got[table] == indexed[table], table
    # The history has what the test claims to cover.
    types = {r[5] for r in got["btc_outputs"]}
    assert {"p2pkh", "p2wpkh", "p2sh", "nulldata"} <= types
    assert max(r[6] for r in got["btc_txs"]) >= 3  # a consolidation's inputs
    rows = sum(len(got[t]) for t in ("btc_txs", "btc_outputs", "btc_inputs"))
    print(f"\nbitcoin-etl export {dump.export_seconds:.1f} s; import {rows} rows in "
          f"{seconds:.2f} s = {rows / seconds:,.0f} rows/s")


def test_import_network_and_chain_default_from_the_genesis(dump: Dump, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    assert import_bitcoin_etl(con, dump.files, ImportOptions()).chain == CHAIN


def test_gzipped_dump_gives_the_same_rows(dump: Dump, indexed: dict, tmp_path: Path) -> None:
    files = []
    for f in dump.files:
        target = tmp_path / (f.name + ".gz")
        target.write_bytes(gzip.compress(f.read_bytes()))
        files.append(target)
    con = connect(tmp_path / "s.duckdb")
    import_bitcoin_etl(con, files, ImportOptions(network="regtest"))
    assert snapshot(con)["transfers"] == indexed["transfers"]


def test_small_chunks_give_the_same_rows(dump: Dump, indexed: dict, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    progress: list[ImportProgress] = []
    import_bitcoin_etl(con, dump.files, ImportOptions(network="regtest",
                       on_progress=progress.append), chunk_transactions=40)
    assert len(progress) > 5
    assert snapshot(con)["btc_transfers"] == indexed["btc_transfers"]


def test_enriched_dump_resolves_prevouts_like_index_btc(dump: Dump, tmp_path: Path) -> None:
    """A dump starting above genesis, enriched by ``bitcoinetl enrich_transactions`` (the spent
    outputs' value, type and address on each input), gives the prevouts index btc fetches."""
    k = dump.last - 3
    blocks, txs = part(dump, tmp_path / "part", k, dump.last)
    tool = tool_venv("bitcoin-etl", "3.11", BITCOIN_ETL) / "bitcoinetl"
    enriched = tmp_path / "part" / "enriched_transactions.json"
    with RpcProxy(dump.node.url, ProxyRules(intercept=core_dialect(dump.node.url))) as proxy:
        done = subprocess.run(
            [str(tool), "enrich_transactions", "--provider-uri", proxy.url, "--chain", "bitcoin",
             "--transactions-input", str(txs), "--transactions-output", str(enriched)],
            capture_output=True, text=True, timeout=300, check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    con = connect(tmp_path / "import.duckdb")
    import_bitcoin_etl(con, [blocks, enriched], ImportOptions(network="regtest"))
    oracle = connect(tmp_path / "rpc.duckdb")
    index_btc(oracle, dump.node.url, network="regtest", from_height=k, to_height=dump.last,
              settings=BtcIndexSettings(confirmations=0))
    got, want = snapshot(con), snapshot(oracle)
    assert len(want["btc_prevouts"]) >= 3
    assert {r[4] for r in want["btc_prevouts"]} >= {"p2pkh", "p2wpkh", "p2sh"}
    for table in ("btc_prevouts", "btc_outputs", "btc_inputs", "btc_transfers", "transfers"):
        assert got[table] == want[table], table
    # The first block's parent is outside the dump and the store: unknown, stored empty.
    assert got["blocks"][1:] == want["blocks"][1:]
    assert got["blocks"][0][3] == "" and got["blocks"][0][:3] == want["blocks"][0][:3]


def test_import_twice_changes_nothing(dump: Dump, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    import_bitcoin_etl(con, dump.files, ImportOptions(network="regtest"))
    before = snapshot(con)
    import_bitcoin_etl(con, dump.files, ImportOptions(network="regtest"))
    assert snapshot(con) == before


def test_import_over_an_indexed_range_changes_nothing(dump: Dump, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    index(con, dump)
    before = snapshot(con)
    import_bitcoin_etl(con, dump.files, ImportOptions(network="regtest"))
    assert snapshot(con) == before


def test_index_continues_after_an_imported_range(
    dump: Dump, indexed: dict, tmp_path: Path
) -> None:
    con = connect(tmp_path / "s.duckdb")
    k = dump.last - 4
    import_bitcoin_etl(con, part(dump, tmp_path / "part", 0, k), ImportOptions(network="regtest"))
    result = index(con, dump)
    assert (result.from_block, result.blocks) == (k + 1, 4)
    assert snapshot(con) == indexed


def test_import_continues_an_indexed_range(dump: Dump, indexed: dict, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    k = dump.last - 4
    index(con, dump, to_height=k)
    import_bitcoin_etl(con, part(dump, tmp_path / "part", k + 1, dump.last),
                       ImportOptions(network="regtest"))
    assert snapshot(con) == indexed


def test_a_gap_against_the_stored_range_is_refused(dump: Dump, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    k = dump.last - 10
    import_bitcoin_etl(con, part(dump, tmp_path / "a", 0, k), ImportOptions(network="regtest"))
    before = snapshot(con)
    later = part(dump, tmp_path / "b", k + 5, dump.last)
    with pytest.raises(InputError, match=rf"blocks {k + 1}-{k + 4} missing"):
        import_bitcoin_etl(con, later, ImportOptions(network="regtest"))
    assert snapshot(con) == before


def test_a_blocks_dump_with_holes_is_refused(dump: Dump, tmp_path: Path) -> None:
    blocks = [b for b in lines(dump.blocks) if b["number"] not in (7, 8, 20)]
    txs = [t for t in lines(dump.transactions) if t["block_number"] not in (7, 8, 20)]
    files = [write_lines(tmp_path / "blocks.json", blocks),
             write_lines(tmp_path / "transactions.json", txs)]
    con = connect(tmp_path / "s.duckdb")
    with pytest.raises(DataError, match=r"not contiguous: blocks 0-\d+ lack 7-8, 20"):
        import_bitcoin_etl(con, files, ImportOptions(network="regtest"))


def test_a_dump_of_another_fork_is_refused_at_the_boundary(dump: Dump, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    k = dump.last - 5
    import_bitcoin_etl(con, part(dump, tmp_path / "a", 0, k), ImportOptions(network="regtest"))
    # The store's tip stands for another fork's block k.
    con.execute("UPDATE blocks SET hash = ? WHERE number = ?", ["ab" * 32, k])
    with pytest.raises(DataError, match=rf"block {k + 1} .* does not follow .*stored block {k}"
                                        r".*another fork or network"):
        import_bitcoin_etl(con, part(dump, tmp_path / "b", k + 1, dump.last),
                           ImportOptions(network="regtest"))
    # Overlapping blocks whose hashes differ are refused too.
    with pytest.raises(DataError, match=rf"block {k} is .* but {CHAIN} holds"):
        import_bitcoin_etl(con, dump.files, ImportOptions(network="regtest"))


def _corrupt(dump: Dump, tmp_path: Path) -> tuple[list[Path], dict[int, str]]:
    """A copy of the dump with a malformed address, a negative value and a missing key; returns
    the files and {line number: expected problem}."""
    txs = lines(dump.transactions)
    spends = [n for n, t in enumerate(txs) if not t["is_coinbase"]]
    a, b, c = spends[0], spends[1], spends[-1]
    txs[a]["outputs"][0]["addresses"] = ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT!"]
    txs[b]["outputs"][-1]["value"] = -5
    del txs[c]["inputs"][0]["spent_transaction_hash"]
    files = [dump.blocks, write_lines(tmp_path / "transactions.json", txs)]
    return files, {
        a + 1: "outputs[0].addresses has a malformed address",
        b + 1: f"outputs[{len(txs[b]['outputs']) - 1}].value is negative: -5",
        c + 1: "inputs[0].spent_transaction_hash missing",
    }


def test_bad_rows_are_rejected_with_file_and_line(dump: Dump, tmp_path: Path) -> None:
    files, expected = _corrupt(dump, tmp_path)
    con = connect(tmp_path / "s.duckdb")
    rejects = tmp_path / "rejects.csv"
    result = import_bitcoin_etl(con, files, ImportOptions(network="regtest",
                                                          rejects_path=rejects))
    assert result.rejected == 3
    assert [(r.file, r.row) for r in result.rejects] == [(str(files[1]), n) for n in expected]
    for reject in result.rejects:
        assert reject.problem.startswith(expected[reject.row])
    with open(rejects, newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["file", "row", "problem"]
    assert [(f, int(n)) for f, n, _ in table[1:]] == [(str(files[1]), n) for n in expected]
    total = len(lines(dump.transactions))
    stored = con.execute("SELECT count(*) FROM btc_txs").fetchall()[0][0]
    assert stored == total - 3
    assert result.rows_imported == result.rows_read - 3


def test_strict_stops_at_the_first_bad_row(dump: Dump, tmp_path: Path) -> None:
    files, expected = _corrupt(dump, tmp_path)
    con = connect(tmp_path / "s.duckdb")
    first = min(expected)
    with pytest.raises(DataError, match=rf"transactions.json:{first}: outputs\[0\].addresses"):
        import_bitcoin_etl(con, files, ImportOptions(network="regtest", strict=True))
    assert con.execute("SELECT count(*) FROM btc_txs").fetchall()[0][0] == 0


def test_a_file_in_another_format_fails_at_once(dump: Dump, tmp_path: Path) -> None:
    token_transfers = tmp_path / "token_transfers.csv"
    token_transfers.write_text(
        "token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n"
        "0xdac17f958d2ee523a2206206994597c13d831ec7,0x00,0x01,5,0xab,0,1\n"
    )
    con = connect(tmp_path / "s.duckdb")
    with pytest.raises(InputError, match=r"token_transfers.csv is not a bitcoin-etl dump .*"
                                         r"expected JSON lines of blocks"):
        import_bitcoin_etl(con, [dump.blocks, token_transfers], ImportOptions())
    other = write_lines(tmp_path / "logs.json", [{"address": "0x00", "topics": []}])
    with pytest.raises(InputError, match=r"logs.json is not a bitcoin-etl dump \(keys"):
        import_bitcoin_etl(con, [other], ImportOptions())
    assert con.execute("SELECT count(*) FROM blocks").fetchall()[0][0] == 0


def test_transactions_without_the_blocks_dump_fail_at_once(dump: Dump, tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    with pytest.raises(InputError, match=r"blocks dump .* is needed"):
        import_bitcoin_etl(con, [dump.transactions], ImportOptions())
