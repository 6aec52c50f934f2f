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
# address ids are per store (their order depends on what was written first): compare the text
TRANSFERS = "SELECT * EXCLUDE (from_id, to_id) FROM transfers ORDER BY ALL"
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


# ethereum-etl's `stream`, exact integers, open blocks, all-rejected files -----------------------

OPEN = "SELECT chain, stream, block_number FROM open_blocks ORDER BY ALL"


def etl_stream(world, entities: str, out: Path) -> Path:
    """Run `ethereumetl stream` over the whole scenario chain and keep what it prints.

    ethereum-etl 2.4.2's `stream` has no end block and no file output: it prints one JSON object
    per line (every item type, told apart by `type`), follows the head forever and records its
    progress in last_synced_block.txt. It is stopped once that file reaches the chain's head.
    """
    import os
    import time

    etl = tool_venv("ethereum-etl", "3.10", ETL_REQUIREMENTS) / "ethereumetl"
    synced = out.parent / f"{out.stem}.last_synced_block.txt"
    head = world["s"].end_block
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [str(etl), "stream", "-s", "0", "-e", entities, "-p", world["anvil"].url,
             "-l", str(synced), "-B", "1000", "--period-seconds", "1"],
            stdout=sink, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                text = synced.read_text().strip() if synced.exists() else ""
                if text and int(text) >= head:
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    assert synced.read_text().strip() == str(head), err[-2000:]
    return out


@pytest.fixture(scope="module")
def streamed(world):
    """`stream` output of the scenario: with traces, and without (blocks, transactions, token
    transfers) both as printed and split into one file per item type."""
    import json

    root = world["root"] / "stream"
    root.mkdir()
    full = etl_stream(world, "block,transaction,token_transfer,trace", root / "full.json")
    plain = etl_stream(world, "block,transaction,token_transfer", root / "plain.json")
    split = root / "split"
    split.mkdir()
    for line in plain.read_text().splitlines():
        item = json.loads(line)["type"]
        with (split / f"{item}s.json").open("a") as f:
            f.write(line + "\n")
    return {"full": full, "plain": plain, "split": split}


def test_ethereum_etl_stream_output_loads_the_same_rows_as_the_rpc_indexer(
    world, streamed, tmp_path
):
    """Regression: `stream` writes values as JSON integers, one of them 2^256-1, so DuckDB's
    JSON reader typed the column DOUBLE and every amount arrived as '30000000.0': all rows were
    rejected, the import exited 0 and covered the blocks. Read as text, they are exact."""
    con = duckdb.connect()
    types = {
        name: typ for name, typ, *_ in con.execute(
            "DESCRIBE SELECT * FROM read_json(?, format = 'newline_delimited')",
            [str(streamed["full"])],
        ).fetchall()
    }
    con.close()
    assert types["value"] == "DOUBLE"  # what DuckDB would make of the file on its own

    db = tmp_path / "stream.duckdb"
    result = do_import(db, [streamed["full"]], "ethereum-etl", world["s"])
    assert result.rejected == 0 and result.opened == 0
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, BLOCKS) == rows(world["reference"], BLOCKS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)
    huge = f"SELECT count(*) FROM token_transfers WHERE amount_raw_big = '{2**256 - 1}'::BIGNUM"
    assert rows(db, huge) == rows(world["reference"], huge) != [(0,)]


def test_ethereum_etl_stream_without_traces_printed_or_split_equals_an_index_without_tracing(
    world, streamed, tmp_path
):
    for name, paths in (("printed", [streamed["plain"]]), ("split", [streamed["split"]])):
        db = tmp_path / f"{name}.duckdb"
        result = do_import(db, paths, "ethereum-etl", world["s"])
        assert result.rejected == 0, result.rejects
        assert rows(db, TRANSFERS) == rows(world["plain"], TRANSFERS), name
        assert rows(db, COVERAGE) == rows(world["plain"], COVERAGE), name


def _token_rows_as_json(world, folder: Path, values: dict[int, object]) -> Path:
    """ethereum-etl's token_transfers.csv as JSON lines (integers as JSON numbers), with the
    values of the given data rows (0-based) replaced; beside it the dump's blocks.csv."""
    import json

    folder.mkdir()
    shutil.copy(world["etl"] / "blocks.csv", folder / "blocks.csv")
    with (world["etl"] / "token_transfers.csv").open() as src:
        table = list(csv.DictReader(src))
    lines = []
    for i, row in enumerate(table):
        item = {k: (int(v) if k in ("value", "log_index", "block_number") else v)
                for k, v in row.items()}
        if i in values:
            item["value"] = values[i]
        lines.append(json.dumps(item))
    (folder / "token_transfers.json").write_text("\n".join(lines) + "\n")
    return folder


def test_a_float_typed_amount_column_keeps_large_integers_exact(world, tmp_path):
    """A JSON integer is exact at any size even when a float elsewhere makes DuckDB type the
    column DOUBLE; a float is an amount only when whole and at most 2^53."""
    usdt = world["s"].usdt
    with (world["etl"] / "token_transfers.csv").open() as src:
        table = list(csv.DictReader(src))
    mine = [i for i, r in enumerate(table) if r["token_address"] == usdt]
    values = {mine[0]: 10**30, mine[1]: 30000000.0, mine[2]: 1e30, mine[3]: 2.5,
              mine[4]: float(2**53 + 2)}
    dump = _token_rows_as_json(world, tmp_path / "floats", values)
    db = tmp_path / "floats.duckdb"
    result = do_import(db, [dump], "ethereum-etl", world["s"], rejects_path=tmp_path / "r.csv")
    problems = sorted(r.problem for r in result.rejects)
    assert len(problems) == 3
    assert all("is a float, not an exact integer" in p for p in problems)
    assert {p.split(" ")[1] for p in problems} == {"1e+30", "2.5", "9007199254740994.0"}
    stored = {(h, i): (raw, big) for h, i, raw, big in rows(
        db, "SELECT tx_hash, log_index, amount_raw, amount_raw_big FROM token_transfers")}
    first, second = table[mine[0]], table[mine[1]]
    assert stored[(first["transaction_hash"], int(first["log_index"]))] == (10**30, None)
    assert stored[(second["transaction_hash"], int(second["log_index"]))] == (30000000, None)


def _one_bad_usdt_row(world, tmp_path) -> tuple[Path, int]:
    """ethereum-etl's CSV dump with one USDT row's value made negative; and that row's block."""
    bad = tmp_path / "one-bad"
    bad.mkdir()
    for name in ("blocks.csv", "traces.csv"):
        shutil.copy(world["etl"] / name, bad / name)
    with (world["etl"] / "token_transfers.csv").open() as src:
        table = list(csv.DictReader(src))
    i = [k for k, r in enumerate(table) if r["token_address"] == world["s"].usdt][2]
    table[i]["value"] = "-5"
    with (bad / "token_transfers.csv").open("w") as dst:
        w = csv.DictWriter(dst, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)
    return bad, int(table[i]["block_number"])


def test_a_block_with_a_rejected_row_stays_open_until_index_evm_or_a_corrected_import(
    world, tmp_path
):
    bad, block = _one_bad_usdt_row(world, tmp_path)
    usdt, head = f"erc20:{world['s'].usdt}", world["s"].end_block
    db = tmp_path / "open.duckdb"
    result = do_import(db, [bad], "ethereum-etl", world["s"])
    assert result.rejected == 1
    assert [(b.stream, b.block) for b in result.open_blocks] == [(usdt, block)]
    coverage = {(s, a, b) for _, s, a, b in rows(db, COVERAGE)}
    assert (usdt, 0, block - 1) in coverage  # the other streams are whole
    assert {s for s, _, b in coverage if b == head} == {
        s for _, s, _, _ in rows(world["reference"], COVERAGE)} - {usdt}
    assert rows(db, OPEN) == [("devchain", usdt, block)]
    info = run_cli("db", "info", "--db", str(db))
    assert info.returncode == 0, info.stderr
    assert f"devchain {usdt}: blocks 0-{block - 1}" in info.stdout
    assert f"devchain {usdt}: block {block} open" in info.stdout and "amount" in info.stdout

    # a corrected import of the same blocks covers it ...
    fixed = tmp_path / "fixed.duckdb"
    shutil.copy(db, fixed)
    files = [world["etl"] / n for n in ("token_transfers.csv", "blocks.csv", "traces.csv")]
    do_import(fixed, files, "ethereum-etl", world["s"])
    assert rows(fixed, OPEN) == []
    assert rows(fixed, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(fixed, COVERAGE) == rows(world["reference"], COVERAGE)

    # ... and so does `index evm`, which resumes at the open block
    rpc_index(world["anvil"].url, db, world["s"])
    assert rows(db, OPEN) == []
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)
    assert "open (not covered" not in run_cli("db", "info", "--db", str(db)).stdout


def test_a_rejected_row_over_an_indexed_range_cuts_the_checkpoint_back(world, tmp_path):
    """The import replaced the range's rows without the bad one: the block is no longer whole."""
    bad, block = _one_bad_usdt_row(world, tmp_path)
    usdt = f"erc20:{world['s'].usdt}"
    db = tmp_path / "cut.duckdb"
    shutil.copy(world["reference"], db)
    do_import(db, [bad], "ethereum-etl", world["s"])
    assert ("devchain", usdt, 0, block - 1) in rows(db, COVERAGE)
    assert rows(db, OPEN) == [("devchain", usdt, block)]
    rpc_index(world["anvil"].url, db, world["s"])
    assert rows(db, TRANSFERS) == rows(world["reference"], TRANSFERS)
    assert rows(db, COVERAGE) == rows(world["reference"], COVERAGE)
    assert rows(db, OPEN) == []


def test_a_file_whose_every_row_is_rejected_fails_with_exit_code_6_and_imports_nothing(
    world, tmp_path
):
    bad = tmp_path / "all-bad"
    bad.mkdir()
    for name in ("blocks.csv", "traces.csv"):
        shutil.copy(world["etl"] / name, bad / name)
    with (world["etl"] / "token_transfers.csv").open() as src:
        table = list(csv.DictReader(src))
    for r in table:
        r["value"] = f"{float(r['value']):e}"  # a writer's floats: 1.000000e+12 and the like
    with (bad / "token_transfers.csv").open("w") as dst:
        w = csv.DictWriter(dst, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)
    db = tmp_path / "all-bad.duckdb"
    done = run_cli("import", "transfers", str(bad), "--format", "ethereum-etl",
                   "--chain", "devchain", *token_flags(world["s"]), "--db", str(db))
    assert done.returncode == 6, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "token_transfers.csv: all " in lines[0] and "token transfer rows were rejected" in lines[0]
    assert "row 2: amount: " in lines[0] and "is a float" in lines[0]
    assert rows(db, "SELECT count(*) FROM transfers") == [(0,)]
    assert rows(db, COVERAGE) == []
    with pytest.raises(DataError, match=r"all \d+ token transfer rows were rejected"):
        do_import(tmp_path / "lib.duckdb", [bad], "ethereum-etl", world["s"])
