"""Ingest benchmark: exposure's EVM token indexer against ethereum-etl, on 200,000 real logs.

1. Records (once; cached in ``bench/.cache``) a chain with ``--logs`` ERC-20 Transfer logs of one
   6-decimal TestToken played on anvil by ``exposure.devchain.seed_many_transfers``, about
   ``--per-block`` logs per block: every block header and every log, as anvil answered them.
2. Serves the recording from ``bench/replay_node.py`` (its own process, 127.0.0.1), with an
   Infura-like limit of 10,000 results per eth_getLogs.
3. Measures, in this one run:
   a. decode + insert without RPC: ``decode_transfer_logs`` + ``write_evm_batch`` into a fresh
      DuckDB file, in batches of whole blocks (as the indexer commits them);
   b. end to end: ``index_evm`` against the replay node into a fresh DuckDB file;
   c. ethereum-etl 2.4.2's ``export_token_transfers`` against the same node, to CSV (its own
      Python 3.10 venv in ``bench/.cache/etl-venv``, created on first use);
   plus the replay node's own floor (raw eth_getLogs fetch + JSON parse, no indexing).
4. Prints a table and writes ``bench/results/ingest.json``.

Run: ``python bench/ingest.py [--logs 200000] [--skip-etl]`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import requests
from eth_utils import to_checksum_address

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
ETL_VENV = CACHE / "etl-venv"
ETL_VERSION = "2.4.2"
ETL_PYTHON_VERSION = "3.10"

sys.path.insert(0, str(BENCH))
from replay_node import DEFAULT_LOG_LIMIT, load_recording, save_recording  # noqa: E402

from exposure.devchain import TRANSFER_TOPIC, Anvil, find_anvil, seed_many_transfers  # noqa: E402
from exposure.domain import ChainSpec, Token  # noqa: E402
from exposure.indexers.evm import IndexSettings, decode_transfer_logs, index_evm  # noqa: E402
from exposure.indexers.evm.blocks import block_columns  # noqa: E402
from exposure.store import writes  # noqa: E402
from exposure.store.connect import connect  # noqa: E402

CHAIN = "bench"
TARGET_DECODE_INSERT = 300_000
TARGET_RATIO = 5.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# 1. Recording
# --------------------------------------------------------------------------------------------------


def recording_path(n_logs: int, per_block: int) -> Path:
    return CACHE / f"recording-{n_logs}-{per_block}pb.json.gz"


def record(n_logs: int, per_block: int, path: Path) -> None:
    """Play ``n_logs`` transfers on anvil and save every header and log of the chain."""
    # One batchTransfer of ``per_block`` fresh recipients uses about 25,500 gas per recipient and
    # is sent with 1.25x that plus 50,000 gas: this block gas limit fits exactly one per block.
    gas_limit = per_block * 26_000 * 8 // 5 + 100_000
    started = time.perf_counter()
    with Anvil("--gas-limit", str(gas_limit)) as node, node.chain() as chain:
        token = chain.deploy("TestToken", "Bench Token", "BENCH", 6)
        last = seed_many_transfers(
            chain, token, n_logs, per_tx=per_block, seed=0, logs_per_block=None
        )
        seeded = time.perf_counter()
        log(f"  seeded {n_logs:,} transfers in {seeded - started:.1f} s (blocks 0-{last})")
        headers: list[dict[str, Any]] = []
        for first in range(0, last + 1, 500):
            numbers = range(first, min(last, first + 499) + 1)
            headers.extend(
                chain.rpc_batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
            )
        logs: list[dict[str, Any]] = []
        step = max(1, 20_000 // per_block)
        for first in range(0, last + 1, step):
            logs.extend(chain.get_logs(first, min(last, first + step - 1)))
        chain_id = chain.chain_id()
    anvil_version = subprocess.run(
        [find_anvil(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    transfers = sum(
        1
        for x in logs
        if x["address"] == token and len(x["topics"]) == 3 and x["topics"][0] == TRANSFER_TOPIC
    )
    if transfers < n_logs:
        raise SystemExit(f"asked for {n_logs} Transfer logs, found {transfers} on the chain")
    save_recording(
        path,
        {
            "chain_id": chain_id,
            "token": {"address": token, "symbol": "BENCH", "decimals": 6},
            "seeded_transfers": n_logs,
            "per_block": per_block,
            "anvil_gas_limit": gas_limit,
            "anvil_version": anvil_version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "blocks": headers,
            "logs": logs,
        },
    )
    log(
        f"  recorded {len(headers):,} headers and {len(logs):,} logs in "
        f"{time.perf_counter() - started:.1f} s -> {path.relative_to(REPO)} "
        f"({path.stat().st_size / 1e6:.0f} MB)"
    )


# --------------------------------------------------------------------------------------------------
# The replay node, in its own process
# --------------------------------------------------------------------------------------------------


@contextmanager
def replay_node(path: Path, log_limit: int) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "replay_node.py"), str(path), "--log-limit", str(log_limit)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"the replay node did not start: {line!r}")
        log(f"  replay node: {line.strip()[6:]}")
        yield line.split()[1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def node_call(url: str, method: str, params: list[Any] | None = None) -> Any:
    payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    return requests.post(url, json=payload, timeout=60).json()["result"]


# --------------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------------


def fresh_db(name: str) -> Path:
    path = CACHE / "run" / f"{name}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    return path


def block_batches(
    recording: dict[str, Any], batch_logs: int
) -> list[tuple[int, int, list[dict[str, Any]], list[dict[str, Any]]]]:
    """Whole-block batches of about ``batch_logs`` logs: (first, last, logs, headers)."""
    headers = recording["blocks"]
    by_block: list[list[dict[str, Any]]] = [[] for _ in headers]
    for x in recording["logs"]:
        by_block[int(x["blockNumber"], 16)].append(x)
    batches = []
    first = 0
    logs: list[dict[str, Any]] = []
    for number, block_logs in enumerate(by_block):
        logs.extend(block_logs)
        if len(logs) >= batch_logs or number == len(headers) - 1:
            batches.append((first, number, logs, headers[first : number + 1]))
            first, logs = number + 1, []
    return batches


def bench_decode_insert(
    recording: dict[str, Any], batch_logs: int, profile: cProfile.Profile | None
) -> dict[str, Any]:
    """a. decode_transfer_logs + write_evm_batch, no RPC, into a fresh DuckDB file."""
    token = recording_token(recording)
    batches = block_batches(recording, batch_logs)
    path = fresh_db(f"decode-insert-{batch_logs}")
    con = connect(path)
    writes.register_chain(con, ChainSpec(CHAIN, None, tokens=(token,)), recording["chain_id"])
    stream = f"erc20:{token.address}"
    decode_s = insert_s = 0.0
    rows = 0
    if profile:
        profile.enable()
    started = time.perf_counter()
    for first, last, logs, headers in batches:
        t0 = time.perf_counter()
        table = decode_transfer_logs(logs)
        t1 = time.perf_counter()
        writes.write_evm_batch(
            con,
            CHAIN,
            [writes.StreamRange(stream, first, last, token.address)],
            block_columns(headers),
            table,
            None,
        )
        t2 = time.perf_counter()
        decode_s += t1 - t0
        insert_s += t2 - t1
        rows += table.num_rows
    total = time.perf_counter() - started
    if profile:
        profile.disable()
    stored = con.execute("SELECT count(*) FROM token_transfers").fetchone()[0]
    con.close()
    return {
        "batch_logs": batch_logs,
        "batches": len(batches),
        "transfers": rows,
        "stored_rows": stored,
        "decode_seconds": round(decode_s, 4),
        "insert_seconds": round(insert_s, 4),
        "seconds": round(total, 4),
        "transfers_per_second": round(rows / total),
        "decode_per_second": round(rows / decode_s),
        "insert_per_second": round(rows / insert_s),
    }


def bench_floor(url: str, recording: dict[str, Any], log_limit: int) -> dict[str, Any]:
    """The replay node's floor: fetch all logs (eth_getLogs, under the limit) + orjson parse."""
    token = recording["token"]["address"]
    last = int(recording["blocks"][-1]["number"], 16)
    per_block = max(1, recording["per_block"])
    step = max(1, log_limit // per_block - 1)
    session = requests.Session()
    node_call(url, "replay_resetStats")
    n = 0
    bytes_in = 0
    started = time.perf_counter()
    for request_id, first in enumerate(range(0, last + 1, step)):
        query = {
            "fromBlock": hex(first),
            "toBlock": hex(min(last, first + step - 1)),
            "address": [token],
            "topics": [TRANSFER_TOPIC],
        }
        body = orjson.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": "eth_getLogs", "params": [query]}
        )
        content = session.post(url, data=body, headers={"Content-Type": "application/json"}).content
        bytes_in += len(content)
        n += len(orjson.loads(content)["result"])
    seconds = time.perf_counter() - started
    stats = node_call(url, "replay_stats")
    session.close()
    return {
        "logs": n,
        "seconds": round(seconds, 4),
        "logs_per_second": round(n / seconds),
        "mb_per_second": round(bytes_in / seconds / 1e6, 1),
        "node": stats,
    }


def bench_exposure(
    url: str, recording: dict[str, Any], expected: dict[str, Any], profile: cProfile.Profile | None
) -> dict[str, Any]:
    """b. index_evm end to end against the replay node, into a fresh DuckDB file."""
    token = recording_token(recording)
    last = int(recording["blocks"][-1]["number"], 16)
    path = fresh_db("exposure-e2e")
    t0 = time.perf_counter()
    con = connect(path)
    connect_s = time.perf_counter() - t0
    node_call(url, "replay_resetStats")
    if profile:
        profile.enable()
    started = time.perf_counter()
    result = index_evm(
        con,
        url,
        chain=ChainSpec(CHAIN, None),
        tokens=[token],
        from_block=0,
        to_block=last,
        settings=IndexSettings(confirmations=0, native=False),
    )
    seconds = time.perf_counter() - started
    if profile:
        profile.disable()
    stats = node_call(url, "replay_stats")
    got = con.execute(
        # sum() of a UHUGEINT column is a DOUBLE in DuckDB: sum exact decimals instead.
        "SELECT count(*), count(DISTINCT (tx_hash, log_index)), "
        "CAST(sum(CAST(amount_raw AS DECIMAL(38, 0))) AS VARCHAR), "
        "(SELECT count(*) FROM blocks) FROM token_transfers"
    ).fetchone()
    con.close()
    rows, distinct, total, blocks = got
    check = {
        "rows": rows,
        "distinct_keys": distinct,
        "amount_sum": total,
        "blocks": blocks,
    }
    ok = rows == distinct == expected["transfers"] and total == str(expected["amount_sum"])
    return {
        "seconds": round(seconds, 4),
        "connect_seconds": round(connect_s, 4),
        "transfers": result.token_transfers,
        "logs_per_second": round(expected["logs"] / seconds),
        "check": check,
        "ok": bool(ok and blocks == expected["blocks"]),
        "node": stats,
        "node_share": round(stats["compute_seconds"] / seconds, 4),
    }


class _Timed:
    """Accumulated wall time of wrapped callables, by label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

        return timed


def _sql_label(query: str) -> str:
    words = " ".join(query.split()).split(" ")
    if words[0] in ("INSERT", "DELETE"):
        return f"sql {words[0]} {words[2]}"  # INSERT INTO t / DELETE FROM t
    return f"sql {words[0]}"


def insert_breakdown(recording: dict[str, Any], batch_logs: int) -> dict[str, float]:
    """Seconds per statement kind of write_evm_batch (one instrumented pass of a.)."""
    token = recording_token(recording)
    tables = [
        (first, last, decode_transfer_logs(logs), block_columns(headers))
        for first, last, logs, headers in block_batches(recording, batch_logs)
    ]
    con = connect(fresh_db("insert-breakdown"))
    writes.register_chain(con, ChainSpec(CHAIN, None, tokens=(token,)), recording["chain_id"])
    seconds: dict[str, float] = {}

    class Proxy:
        def execute(self, query: str, *args: Any) -> Any:
            started = time.perf_counter()
            try:
                return con.execute(query, *args)
            finally:
                label = _sql_label(query)
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - started

        def __getattr__(self, name: str) -> Any:
            return getattr(con, name)

    proxy = Proxy()
    started = time.perf_counter()
    for first, last, table, blocks in tables:
        ranges = [writes.StreamRange(f"erc20:{token.address}", first, last, token.address)]
        writes.write_evm_batch(proxy, CHAIN, ranges, blocks, table, None)  # type: ignore[arg-type]
    total = time.perf_counter() - started
    con.close()
    seconds["other (register, arrow, Python)"] = total - sum(seconds.values())
    return {"seconds": round(total, 4), **{k: round(v, 4) for k, v in sorted(seconds.items())}}


def exposure_breakdown(url: str, recording: dict[str, Any]) -> dict[str, float]:
    """Where index_evm's time goes (one instrumented run): seconds by step, and the rest."""
    from exposure.indexers import rpc as rpc_module
    from exposure.indexers.evm import indexer as indexer_module

    timer = _Timed()
    real_orjson = rpc_module.orjson

    class TimedOrjson:
        JSONDecodeError = real_orjson.JSONDecodeError
        dumps = staticmethod(real_orjson.dumps)
        loads = staticmethod(timer.wrap("JSON parse (orjson.loads)", real_orjson.loads))

    idx = indexer_module
    patches: list[tuple[Any, str, Any]] = [
        (rpc_module, "orjson", TimedOrjson),
        (rpc_module.RpcClient, "_send", timer.wrap("rpc _send", rpc_module.RpcClient._send)),
        (writes, "write_evm_batch", timer.wrap("write_evm_batch", writes.write_evm_batch)),
    ]
    for name in ("fetch_transfer_logs", "fetch_blocks", "_check_chain", "decode_transfer_logs",
                 "block_columns"):  # fmt: skip
        patches.append((idx, name, timer.wrap(name, getattr(idx, name))))
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    token = recording_token(recording)
    con = connect(fresh_db("exposure-breakdown"))
    try:
        started = time.perf_counter()
        index_evm(
            con,
            url,
            chain=ChainSpec(CHAIN, None),
            tokens=[token],
            from_block=0,
            to_block=int(recording["blocks"][-1]["number"], 16),
            settings=IndexSettings(confirmations=0, native=False),
        )
        total = time.perf_counter() - started
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
        con.close()
    t = timer.seconds
    parse = t.get("JSON parse (orjson.loads)", 0.0)
    steps = {
        "HTTP round trips (requests, server included)": t.get("rpc _send", 0.0) - parse,
        "JSON parse (orjson.loads)": parse,
        "_check_chain": t.get("_check_chain", 0.0),
        "decode_transfer_logs": t.get("decode_transfer_logs", 0.0),
        "block_columns": t.get("block_columns", 0.0),
        "write_evm_batch (DuckDB)": t.get("write_evm_batch", 0.0),
    }
    steps["other (index_evm loop, fetch_* outside RPC, reads)"] = total - sum(steps.values())
    return {"seconds": round(total, 4), **{k: round(v, 4) for k, v in steps.items()}}


def ensure_etl_venv() -> Path:
    """ethereum-etl in its own Python 3.10 venv (pyenv's 3.10); created on first use."""
    python = ETL_VENV / "bin" / "python"
    if python.exists():
        return python
    base = find_python310()
    log(f"  creating {ETL_VENV.relative_to(REPO)} with {base}: ethereum-etl=={ETL_VERSION}")
    subprocess.run([base, "-m", "venv", str(ETL_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"ethereum-etl=={ETL_VERSION}"], check=True
    )
    return python


def find_python310() -> str:
    env = os.environ.get("BENCH_PYTHON310")
    if env:
        return env
    try:
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
        candidates = sorted(Path(root, "versions").glob(f"{ETL_PYTHON_VERSION}.*"))
        if candidates:
            return str(candidates[-1] / "bin" / "python")
    except (OSError, subprocess.CalledProcessError):
        pass
    found = shutil.which(f"python{ETL_PYTHON_VERSION}")
    if found:
        return found
    raise SystemExit("ethereum-etl needs Python 3.10: install it with pyenv or set BENCH_PYTHON310")


def bench_etl(
    url: str, recording: dict[str, Any], expected: dict[str, Any], batch_size: int, workers: int
) -> dict[str, Any]:
    """c. ethereum-etl export_token_transfers against the replay node, to CSV."""
    python = ensure_etl_venv()
    last = int(recording["blocks"][-1]["number"], 16)
    out = CACHE / "run" / "etl-token-transfers.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    # web3 5 (ethereum-etl's pin) accepts only EIP-55 checksummed addresses in filters.
    token = to_checksum_address(recording["token"]["address"])
    def options(output: str) -> list[str]:
        return ["-s", "0", "-e", str(last), "-b", str(batch_size), "-w", str(workers),
                "-p", url, "-o", output, "-t", token]

    command = [str(python), str(BENCH / "etl_driver.py"), *options(str(out))]
    node_call(url, "replay_resetStats")
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"ethereum-etl failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    timing = json.loads(proc.stdout.strip().splitlines()[-1])
    stats = node_call(url, "replay_stats")
    import duckdb

    con = duckdb.connect()
    rows, distinct, total = con.execute(
        "SELECT count(*), count(DISTINCT (transaction_hash, log_index)), "
        "CAST(sum(CAST(value AS DECIMAL(38, 0))) AS VARCHAR) "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(out)],
    ).fetchone()
    con.close()
    seconds = timing["job_seconds"]
    ok = rows == distinct == expected["transfers"] and total == str(expected["amount_sum"])
    return {
        "version": ETL_VERSION,
        "python": timing["python"],
        "batch_size": batch_size,
        "max_workers": workers,
        "seconds": round(seconds, 4),
        "process_wall_seconds": round(wall, 4),
        "import_seconds": round(timing["import_seconds"], 4),
        "logs_per_second": round(expected["logs"] / seconds),
        "check": {"rows": rows, "distinct_keys": distinct, "amount_sum": total},
        "ok": bool(ok),
        "node": stats,
        "node_share": round(stats["compute_seconds"] / seconds, 4),
        "command": " ".join(["ethereumetl", "export_token_transfers", *options("OUT.csv")]),
    }


def recording_token(recording: dict[str, Any]) -> Token:
    t = recording["token"]
    return Token(t["symbol"], t["address"], t["decimals"])


def expectations(recording: dict[str, Any]) -> dict[str, Any]:
    """What every indexer must find: the token's ERC-20 Transfer logs of the recording."""
    token = recording["token"]["address"]
    transfers = [
        x
        for x in recording["logs"]
        if x["address"].lower() == token
        and len(x["topics"]) == 3
        and x["topics"][0] == TRANSFER_TOPIC
    ]
    return {
        "logs": len(recording["logs"]),
        "transfers": len(transfers),
        "amount_sum": sum(int(x["data"], 16) for x in transfers),
        "blocks": len(recording["blocks"]),
    }


def profile_text(profile: cProfile.Profile, limit: int = 30) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    return stream.getvalue()


def best_of(
    runs: int, measure: Callable[[], dict[str, Any]], key: str = "seconds"
) -> dict[str, Any]:
    results = [measure() for _ in range(runs)]
    best = min(results, key=lambda r: r[key])
    if runs > 1:
        best = {
            **best,
            "runs_seconds": [r[key] for r in results],
            "median_seconds": statistics.median(r[key] for r in results),
        }
    return best


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def cpu_busy(seconds: float = 2.0) -> float | None:
    """Share of all CPUs busy over ``seconds`` (Linux /proc/stat): other load skews the figures."""
    try:

        def sample() -> list[int]:
            return [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]

        a = sample()
        time.sleep(seconds)
        d = [y - x for x, y in zip(a, sample(), strict=True)]
        return round(100 * (sum(d) - d[3] - d[4]) / max(1, sum(d)), 1)
    except (OSError, ValueError, IndexError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description="exposure vs ethereum-etl ingest benchmark")
    add = parser.add_argument
    add("--logs", type=int, default=200_000, help="Transfer logs to seed (default 200000)")
    add("--per-block", type=int, default=250, help="logs per block (default 250)")
    add("--skip-etl", action="store_true", help="do not run ethereum-etl")
    add("--runs", type=int, default=3, help="runs of a. and b., the best counts (default 3)")
    add("--batch", type=int, action="append", help="a.'s batch sizes (default 10000 and 50000)")
    add("--log-limit", type=int, default=DEFAULT_LOG_LIMIT, help="eth_getLogs result limit")
    add("--etl-batch-size", type=int, default=100, help="ethereum-etl -b (its default: 100)")
    add("--etl-workers", type=int, default=5, help="ethereum-etl -w (its default: 5)")
    add("--profile", action="store_true", help="cProfile a. and b. into bench/results/")
    add("--rerecord", action="store_true", help="record again even if a recording is cached")
    add("--output", type=Path, default=RESULTS / "ingest.json", help="the JSON figures")
    args = parser.parse_args()
    batches = args.batch or [10_000, 50_000]
    started = time.perf_counter()
    busy_before = cpu_busy()
    if busy_before is not None and busy_before > 10:
        log(f"note: {busy_before:.0f}% of the CPUs were busy before the start: figures will be low")

    path = recording_path(args.logs, args.per_block)
    log("1. recording")
    if args.rerecord or not path.exists():
        record(args.logs, args.per_block, path)
    else:
        log(f"  reusing {path.relative_to(REPO)}")
    if not args.skip_etl:
        ensure_etl_venv()

    profiles: dict[str, cProfile.Profile] = {}

    def profiler(name: str) -> cProfile.Profile | None:
        return profiles.setdefault(name, cProfile.Profile()) if args.profile else None

    with replay_node(path, args.log_limit) as url:
        t0 = time.perf_counter()
        recording = load_recording(path)
        expected = expectations(recording)
        # The recording's millions of objects are this benchmark's, not the indexer's: keep the
        # garbage collector from walking them on every collection (b. took ~40% longer).
        gc.collect()
        gc.freeze()
        log(
            f"  {expected['transfers']:,} transfers in {expected['blocks']:,} blocks "
            f"(loaded in {time.perf_counter() - t0:.1f} s)"
        )

        log("2a. decode + insert (no RPC)")
        decode = {}
        for size in batches:
            prof = profiler(f"decode-insert-{size}")
            decode[size] = best_of(
                args.runs, lambda s=size, p=prof: bench_decode_insert(recording, s, p)
            )
            d = decode[size]
            d["insert_breakdown"] = insert_breakdown(recording, size)
            log(
                f"  batches of {size:,}: {d['transfers_per_second']:,.0f} transfers/s "
                f"(decode {d['decode_per_second']:,.0f}/s, insert {d['insert_per_second']:,.0f}/s)"
            )

        log("2b. replay node floor (eth_getLogs + JSON parse, no indexing)")
        floor = best_of(args.runs, lambda: bench_floor(url, recording, args.log_limit))
        log(f"  {floor['logs_per_second']:,.0f} logs/s, {floor['mb_per_second']} MB/s")

        log("2c. exposure end to end (index_evm)")
        prof = profiler("exposure-e2e")
        exposure = best_of(args.runs, lambda: bench_exposure(url, recording, expected, prof))
        exposure["breakdown"] = exposure_breakdown(url, recording)
        log(f"  {exposure['logs_per_second']:,.0f} logs/s in {exposure['seconds']:.2f} s")

        etl = None
        if not args.skip_etl:
            log(f"2d. ethereum-etl {ETL_VERSION} export_token_transfers")
            etl = bench_etl(url, recording, expected, args.etl_batch_size, args.etl_workers)
            log(f"  {etl['logs_per_second']:,.0f} logs/s in {etl['seconds']:.2f} s")

    main_batch = batches[0]
    ratio = round(etl["seconds"] / exposure["seconds"], 2) if etl else None
    results = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "cpu_busy_percent_before": busy_before,
            "cpu_busy_percent_after": cpu_busy(),
        },
        "recording": {
            "path": str(path.relative_to(REPO)),
            "logs": expected["logs"],
            "transfers": expected["transfers"],
            "blocks": expected["blocks"],
            "per_block": recording["per_block"],
            "anvil_version": recording.get("anvil_version"),
            "log_limit": args.log_limit,
        },
        "runs": args.runs,
        "decode_insert": {str(k): v for k, v in decode.items()},
        "replay_floor": floor,
        "exposure_e2e": exposure,
        "etl_e2e": etl,
        "targets": {
            "decode_insert_per_second": TARGET_DECODE_INSERT,
            "decode_insert_batch_logs": main_batch,
            "decode_insert_met": decode[main_batch]["transfers_per_second"] >= TARGET_DECODE_INSERT,
            "ratio_exposure_over_etl": ratio,
            "ratio_by_process_wall": round(etl["process_wall_seconds"] / exposure["seconds"], 2)
            if etl
            else None,
            "ratio_target": TARGET_RATIO,
            "ratio_met": ratio >= TARGET_RATIO if ratio is not None else None,
        },
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for name, prof in profiles.items():
        (RESULTS / f"profile-{name}.txt").write_text(profile_text(prof))
        prof.dump_stats(RESULTS / f"profile-{name}.prof")
    print_table(results, args.output)


def print_table(r: dict[str, Any], output: Path) -> None:
    rec, t, e, x = r["recording"], r["targets"], r["exposure_e2e"], r["etl_e2e"]
    m = r["machine"]
    rows = [("benchmark", "logs", "seconds", "logs/s", "check")]

    def row(name: str, n: int, seconds: float, rate: int, ok: bool | None) -> None:
        check = "" if ok is None else "ok" if ok else "MISMATCH"
        rows.append((name, f"{n:,}", f"{seconds:.3f}", f"{rate:,}", check))

    for size, d in r["decode_insert"].items():
        name = f"a. decode+insert, batches of {int(size):,}"
        ok = d["stored_rows"] == d["transfers"] == rec["transfers"]
        row(name, d["transfers"], d["seconds"], d["transfers_per_second"], ok)
    f = r["replay_floor"]
    row("   replay node floor (fetch+parse)", f["logs"], f["seconds"], f["logs_per_second"], None)
    row("b. exposure index_evm", e["transfers"], e["seconds"], e["logs_per_second"], e["ok"])
    if x:
        name = f"c. ethereum-etl {x['version']} (-b {x['batch_size']} -w {x['max_workers']})"
        row(name, x["check"]["rows"], x["seconds"], x["logs_per_second"], x["ok"])
    widths = [max(len(cells[i]) for cells in rows) for i in range(5)]
    print(
        f"\n{rec['transfers']:,} transfers in {rec['blocks']:,} blocks ({rec['per_block']}/block), "
        f"eth_getLogs limit {rec['log_limit']:,}; best of {r['runs']} for a. and b.; "
        f"{m['cpus']} CPUs, Python {m['python']}; CPUs busy before "
        f"{m['cpu_busy_percent_before']}%, after {m['cpu_busy_percent_after']}%"
    )
    for i, cells in enumerate(rows):
        print(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    d = r["decode_insert"][str(t["decode_insert_batch_logs"])]
    verdict = "met" if t["decode_insert_met"] else "NOT met"
    print(
        f"\ndecode+insert (batches of {t['decode_insert_batch_logs']:,}): "
        f"{d['transfers_per_second']:,}/s, target {t['decode_insert_per_second']:,}/s: {verdict}"
    )
    if x:
        verdict = "met" if t["ratio_met"] else "NOT met"
        print(
            f"end to end: exposure {t['ratio_exposure_over_etl']}x ethereum-etl "
            f"(by process wall time {t['ratio_by_process_wall']}x), target {t['ratio_target']}x: "
            f"{verdict}"
        )
    share = f"exposure {e['node_share']:.1%}" + (
        f", ethereum-etl {x['node_share']:.1%}" if x else ""
    )
    print(f"replay node's own time, share of each run: {share}")
    main_batch = str(t["decode_insert_batch_logs"])
    for title, parts in (
        (f"a. insert (write_evm_batch), batches of {int(main_batch):,}, by statement",
         r["decode_insert"][main_batch]["insert_breakdown"]),
        ("b. exposure index_evm, by step (one instrumented run)", e["breakdown"]),
    ):  # fmt: skip
        total = parts["seconds"]
        print(f"\n{title}: {total:.3f} s")
        for label, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
            if label != "seconds":
                print(f"  {seconds:7.3f} s  {seconds / total:6.1%}  {label}")
    print(f"\ntotal {r['total_seconds']} s; figures in {output}")


if __name__ == "__main__":
    main()
