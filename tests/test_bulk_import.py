"""Bulk import of EVM history: dumps made by the real extractors (cryo from PyPI, ethereum-etl 2.4.2
in its own Python 3.10 venv) from a real anvil chain load into the same rows as the RPC indexer.

The chain is the devchain scenario: USDT/USDC-like ERC-20 transfers, an ERC-721 contract, plain
ETH payments, internal calls carrying value, a reverted transaction and a reverted inner call.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from exposure.domain import ChainSpec, Token
from exposure.errors import DataError, InputError
from exposure.indexers.bulk import ImportOptions, export_transfers, import_transfers
from exposure.indexers.evm import IndexSettings, index_evm
from exposure.store import connect
from tests.conftest import run_cli
from tests.etl_tools import tool_venv
from tests.proxy import ProxyRules, RpcProxy

ETL_REQUIREMENTS = ["ethereum-etl==2.4.2"]
TRANSFERS = "SELECT * FROM transfers ORDER BY ALL"
BLOCKS = "SELECT chain, number, hash, parent_hash, timestamp FROM blocks ORDER BY ALL"
COVERAGE = "SELECT chain, stream, first_block, last_block FROM checkpoints ORDER BY ALL"


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def tokens_of(s) -> tuple[Token, ...]:
    return (Token("USDT", s.usdt, 6), Token("USDC", s.usdc, 6))


def token_flags(s) -> list[str]:
    from exposure.addresses import checksum as to_checksum

    return [f"--token=USDT={to_checksum(s.usdt)}:6", f"--token=USDC={to_checksum(s.usdc)}:6"]


def rpc_index(url: str, db: Path, s, *, to_block: int | None = None, native: bool = True) -> None:
    con = connect(db)
    try:
        spec = ChainSpec("devchain", None, "ETH", 18, tokens_of(s))
        index_evm(
            con, url, chain=spec, to_block=to_block,
            settings=IndexSettings(confirmations=0, native=native),
        )
    finally:
        con.close()


def do_import(db: Path, paths, fmt: str, s, **options) -> object:
    con = connect(db)
    try:
        return import_transfers(
            con, [str(p) for p in paths], fmt, ImportOptions(chain="devchain", **options),
            tokens=tokens_of(s),
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(shared_scenario, tmp_path_factory):
    """The scenario chain dumped by cryo and ethereum-etl, and indexed over RPC (reference)."""
    import cryo

    anvil, s = shared_scenario
    root = tmp_path_factory.mktemp("bulk")
    head = s.end_block
    blocks = [f"0:{head + 1}"]
    cryo_dir = root / "cryo"
    for dataset, extra in (("erc20_transfers", {}), ("traces", {}),
                           ("blocks", {"include_columns": ["parent_hash"]})):
        cryo.freeze(dataset, blocks=blocks, rpc=anvil.url, output_dir=str(cryo_dir), no_verbose=True,
                    **extra)
    first_part = root / "cryo-first"
    half = head // 2
    for dataset, extra in (("erc20_transfers", {}), ("traces", {}),
                           ("blocks", {"include_columns": ["parent_hash"]})):
        cryo.freeze(dataset, blocks=[f"0:{half + 1}"], rpc=anvil.url,
                    output_dir=str(first_part), no_verbose=True, **extra)

    etl = tool_venv("ethereum-etl", "3.10", ETL_REQUIREMENTS) / "ethereumetl"
    etl_dir = root / "etl"
    etl_dir.mkdir()

    def run(*args: str) -> None:
        done = subprocess.run([str(etl), *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]

    rng = ["-s", "0", "-e", str(head), "-p", anvil.url]
    run("export_blocks_and_transactions", *rng, "--blocks-output", str(etl_dir / "blocks.csv"),
        "--transactions-output", str(etl_dir / "transactions.csv"))
    run("export_token_transfers", *rng, "-o", str(etl_dir / "token_transfers.csv"))
    run("export_traces", *rng, "-o", str(etl_dir / "traces.csv"))
    json_dir = root / "etl-json"
    json_dir.mkdir()
    run("export_blocks_and_transactions", *rng, "--blocks-output", str(json_dir / "blocks.json"),
        "--transactions-output", str(json_dir / "transactions.json"))
    run("extract_csv_column", "-i", str(etl_dir / "transactions.csv"), "-c", "hash",
        "-o", str(root / "hashes.txt"))
    run("export_receipts_and_logs", "--transaction-hashes", str(root / "hashes.txt"),
        "-p", anvil.url, "--receipts-output", str(json_dir / "receipts.json"))
    shutil.copy(etl_dir / "token_transfers.csv", json_dir / "token_transfers.csv")

    reference = root / "rpc.duckdb"
    rpc_index(anvil.url, reference, s)
    plain = root / "rpc-no-tracing.duckdb"
    hidden = {"trace_block", "debug_traceBlockByNumber"}
    with RpcProxy(anvil.url, ProxyRules(hidden_methods=hidden)) as proxy:
        rpc_index(proxy.url, plain, s)
    return {
        "anvil": anvil, "s": s, "root": root, "cryo": cryo_dir, "cryo_first": first_part,
        "etl": etl_dir, "etl_json": json_dir, "reference": reference, "plain": plain,
        "half": half,
    }


def test_cryo_dump_loads_the_same_rows_as_the_rpc_indexer(world, tmp_path):
    db = tmp_path / "cryo.duckdb"
    result = do_import(db, [world["cryo"]], "cryo", world["s"])
    assert result.rejected == 0
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, BLOCKS) == rows(world["reference"], BLOCKS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)
    # the reverted transaction and the reverted inner call moved nothing, and are absent
    s = world["s"]
    hashes = {r[3] for r in rows(db, TRANSFERS)}
    assert s.reverted_tx not in hashes


def test_ethereum_etl_csv_with_traces_loads_the_same_rows(world, tmp_path):
    db = tmp_path / "etl.duckdb"
    files = [world["etl"] / n for n in ("token_transfers.csv", "blocks.csv", "traces.csv")]
    result = do_import(db, files, "ethereum-etl", world["s"])
    assert result.rejected == 0
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, BLOCKS) == rows(world["reference"], BLOCKS)


def test_ethereum_etl_json_transactions_with_receipts_equal_an_index_without_tracing(
    world, tmp_path
):
    """Without traces only transactions' own values exist: the same as a node without tracing."""
    db = tmp_path / "etl-json.duckdb"
    do_import(db, [world["etl_json"]], "ethereum-etl", world["s"])
    assert rows(db, TRANSFERS) == rows(world["plain"], TRANSFERS)


def test_transactions_without_receipt_status_are_refused(world, tmp_path):
    files = [world["etl"] / "transactions.csv", world["etl"] / "blocks.csv"]
    with pytest.raises(InputError, match="receipt_status"):
        do_import(tmp_path / "x.duckdb", files, "ethereum-etl", world["s"])


def test_importing_twice_or_over_an_indexed_range_changes_nothing(world, tmp_path):
    db = tmp_path / "twice.duckdb"
    shutil.copy(world["reference"], db)
    do_import(db, [world["cryo"]], "cryo", world["s"])
    do_import(db, [world["cryo"]], "cryo", world["s"])
    files = [world["etl"] / n for n in ("token_transfers.csv", "blocks.csv", "traces.csv")]
    do_import(db, files, "ethereum-etl", world["s"])
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, BLOCKS) == rows(world["reference"], BLOCKS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)


def test_index_evm_continues_after_an_imported_range(world, tmp_path):
    db = tmp_path / "continue.duckdb"
    result = do_import(db, [world["cryo_first"]], "cryo", world["s"])
    assert {(c.first, c.last) for c in result.coverage} == {(0, world["half"])}
    rpc_index(world["anvil"].url, db, world["s"])
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)


def test_a_range_that_would_leave_a_gap_is_refused(world, tmp_path):
    db = tmp_path / "gap.duckdb"
    rpc_index(world["anvil"].url, db, world["s"], to_block=5)
    late = tmp_path / "late"
    import cryo

    for dataset, extra in (("erc20_transfers", {}), ("blocks", {"include_columns": ["parent_hash"]})):
        cryo.freeze(dataset, blocks=["20:30"], rpc=world["anvil"].url, output_dir=str(late), no_verbose=True,
                    **extra)
    before = rows(db, TRANSFERS)
    with pytest.raises(InputError, match=r"leaving blocks 6-19 missing"):
        do_import(db, [late], "cryo", world["s"])
    assert rows(db, TRANSFERS) == before
    done = run_cli("import", "transfers", str(late), "--format", "cryo", "--chain", "devchain",
                   *token_flags(world["s"]), "--db", str(db))
    assert done.returncode == 2
    assert "leaving blocks 6-19 missing" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_dump_of_another_fork_is_refused(world, tmp_path):
    db = tmp_path / "fork.duckdb"
    shutil.copy(world["reference"], db)
    forked = tmp_path / "forked"
    forked.mkdir()
    for name in ("token_transfers.csv", "traces.csv"):
        shutil.copy(world["etl"] / name, forked / name)
    with (world["etl"] / "blocks.csv").open() as src, (forked / "blocks.csv").open("w") as dst:
        table = list(csv.DictReader(src))
        table[7]["hash"] = "0x" + "ab" * 32
        table[8]["parent_hash"] = table[7]["hash"]
        w = csv.DictWriter(dst, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)
    with pytest.raises(InputError, match="block 7: the store holds"):
        do_import(db, [forked], "ethereum-etl", world["s"])


def _corrupt(world, tmp_path) -> Path:
    """A copy of ethereum-etl's dump whose token_transfers.csv holds three bad rows."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("blocks.csv", "traces.csv"):
        shutil.copy(world["etl"] / name, bad / name)
    lines = (world["etl"] / "token_transfers.csv").read_text().splitlines()
    header = lines[0].split(",")
    usdt = world["s"].usdt

    def edit(i: int, column: str, value: str) -> None:
        cells = lines[i].split(",")
        cells[header.index(column)] = value
        lines[i] = ",".join(cells)

    usdt_lines = [i for i in range(1, len(lines)) if lines[i].startswith(usdt)]
    edit(usdt_lines[0], "from_address", "0x12345")  # line usdt_lines[0] + 1 in the file
    edit(usdt_lines[1], "value", "-5")
    edit(usdt_lines[2], "log_index", "")
    (bad / "token_transfers.csv").write_text("\n".join(lines) + "\n")
    return bad


def test_bad_rows_are_rejected_with_file_and_line_and_the_rest_imported(world, tmp_path):
    bad = _corrupt(world, tmp_path)
    db = tmp_path / "bad.duckdb"
    rejects = tmp_path / "rejects.csv"
    result = do_import(db, [bad], "ethereum-etl", world["s"], rejects_path=rejects)
    assert result.rejected == 3
    problems = {(Path(r.file).name, r.problem.split(":")[0]) for r in result.rejects}
    assert problems == {("token_transfers.csv", "from_address"),
                        ("token_transfers.csv", "amount"), ("token_transfers.csv", "log_index")}
    text = (bad / "token_transfers.csv").read_text().splitlines()
    for r in result.rejects:
        line = text[r.row - 1]
        assert "0x12345," in line or ",-5," in line or ",," in line
    listed = list(csv.DictReader(rejects.open()))
    assert len(listed) == 3
    expected = len(rows(world["reference"], TRANSFERS)) - 3
    assert len(rows(db, TRANSFERS)) == expected


def test_strict_stops_at_the_first_bad_row_and_imports_nothing(world, tmp_path):
    bad = _corrupt(world, tmp_path)
    db = tmp_path / "strict.duckdb"
    with pytest.raises(DataError, match=r"token_transfers.csv:\d+: "):
        do_import(db, [bad], "ethereum-etl", world["s"], strict=True)
    assert rows(db, "SELECT count(*) FROM token_transfers") == [(0,)]
    done = run_cli("import", "transfers", str(bad), "--format", "ethereum-etl", "--strict",
                   "--chain", "devchain", *token_flags(world["s"]), "--db", str(tmp_path / "c.db"))
    assert done.returncode == 6, done.stderr
    assert "token_transfers.csv:" in done.stderr and "Traceback" not in done.stderr


def test_the_cli_reports_counts_and_writes_the_rejects_file(world, tmp_path):
    bad = _corrupt(world, tmp_path)
    db = tmp_path / "cli.duckdb"
    done = run_cli("import", "transfers", str(bad), "--format", "ethereum-etl",
                   "--chain", "devchain", *token_flags(world["s"]), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "3 bad rows skipped" in done.stderr
    assert Path(f"{db}.rejects.csv").exists()
    assert "imported" in done.stdout


def test_a_file_in_the_wrong_format_fails_at_once_saying_what_was_expected(world, tmp_path):
    done = run_cli("import", "transfers", str(world["etl"] / "token_transfers.csv"),
                   "--format", "cryo", "--db", str(tmp_path / "w.duckdb"))
    assert done.returncode == 2
    assert "not a cryo dataset: expected one of erc20_transfers" in done.stderr
    junk = tmp_path / "junk.csv"
    junk.write_text("hello,world\n1,2\n")
    with pytest.raises(InputError, match="not a ethereum-etl dataset"):
        do_import(tmp_path / "j.duckdb", [junk], "ethereum-etl", world["s"])
    with pytest.raises(InputError, match="no blocks dataset"):
        do_import(tmp_path / "j.duckdb", [world["etl"] / "token_transfers.csv"], "ethereum-etl",
                  world["s"])


def test_cryo_native_transfers_are_refused_with_the_reason(world, tmp_path):
    import cryo

    out = tmp_path / "native"
    cryo.freeze("native_transfers", blocks=["0:5"], rpc=world["anvil"].url, output_dir=str(out), no_verbose=True)
    with pytest.raises(InputError, match="cryo traces"):
        do_import(tmp_path / "n.duckdb", [out], "cryo", world["s"])


def test_a_blocks_dataset_with_a_hole_is_refused_naming_the_missing_blocks(world, tmp_path):
    holed = tmp_path / "holed"
    holed.mkdir()
    shutil.copy(world["etl"] / "token_transfers.csv", holed / "token_transfers.csv")
    lines = (world["etl"] / "blocks.csv").read_text().splitlines()
    del lines[11:13]  # blocks 10 and 11
    (holed / "blocks.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="first missing: 10, 11"):
        do_import(tmp_path / "h.duckdb", [holed], "ethereum-etl", world["s"])


def test_an_export_moves_a_store_rows_and_coverage_intact(world, tmp_path):
    out = tmp_path / "export"
    done = run_cli("export", "transfers", str(out), "--db", str(world["reference"]))
    assert done.returncode == 0, done.stderr
    db = tmp_path / "moved.duckdb"
    done = run_cli("import", "transfers", str(out), "--format", "exposure", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)
    assert rows(db, "SELECT chain, number, hash, timestamp FROM blocks ORDER BY ALL") == rows(
        world["reference"], "SELECT chain, number, hash, timestamp FROM blocks ORDER BY ALL"
    )
    # and again: nothing changes
    run_cli("import", "transfers", str(out), "--format", "exposure", "--db", str(db))
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    con = connect(tmp_path / "a.duckdb")
    try:
        with pytest.raises(InputError, match="no transfers to export"):
            export_transfers(con, tmp_path / "empty")
    finally:
        con.close()


def test_an_import_killed_at_random_moments_then_rerun_loses_and_duplicates_nothing(
    world, tmp_path
):
    import os
    import random
    import signal
    import sys
    import time

    from tests.conftest import REPO

    db = tmp_path / "killed.duckdb"
    args = [sys.executable, "-m", "exposure", "import", "transfers", str(world["cryo"]),
            "--format", "cryo", "--chain", "devchain", *token_flags(world["s"]), "--db", str(db)]
    rng = random.Random(7)
    for _ in range(5):
        proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ, "CI": "true"})
        time.sleep(rng.uniform(0.2, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        tables = rows(db, "SELECT table_name FROM duckdb_tables()") if db.exists() else []
        if ("checkpoints",) in tables:  # what was committed is whole: blocks match checkpoints
            covered = rows(db, COVERAGE)
            stored = rows(db, "SELECT count(*) FROM blocks")[0][0]
            assert all(last - first + 1 == stored for _, _, first, last in covered)
    done = run_cli(*args[3:])
    assert done.returncode == 0, done.stderr
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)
