"""Bulk import benchmark: ``exposure import transfers --format exposure`` against DuckDB and Arrow.

1. A dump in exposure's own export format (a folder with ``transfers.parquet`` and
   ``blocks.parquet``, the coverage record in the Parquet key-value metadata) is derived from
   the synthetic graph of ``bench/graphgen.py`` of the matching size (1M rows: small, 10M: medium,
   100M: large) and cached in ``bench/.cache/import-<rows>-s<seed>/``. Each edge is one USDT
   transfer on ``ethereum`` (the real contract, 6 decimals): the rows are the edges in a seeded
   permutation, ``--per-block`` rows per block from block 10,000,000 on, one transaction per row;
   addresses and hashes are deterministic hex from the node ids, row and block numbers; the
   blocks are contiguous and chain parent -> child. The hex is made in numpy and the Parquet is
   written by DuckDB's ``COPY`` with the same columns and types as ``exposure export transfers``
   (checked with ``--check-format`` on a small store).
2. Side by side on the same files, each in its own process (wall time and peak RSS from
   ``/usr/bin/time``), each into a fresh DuckDB file:
   - **exposure**: the CLI, ``exposure import transfers DUMP --format exposure --db FILE``;
   - **DuckDB**: ``CREATE TABLE ... AS SELECT * FROM read_parquet(...)`` for both files (no
     checks, no keys, no casts: the floor of a Parquet load into DuckDB);
   - **Arrow**: ``pyarrow.parquet`` read, then ``INSERT INTO ... SELECT * FROM`` the Arrow table
     (``read_table`` of the whole file up to ``--arrow-whole-max`` rows; above that, batches of
     ``--arrow-batch`` rows from ``iter_batches`` in one transaction, since the whole table of
     100M rows would not fit in RAM).

Prints rows/s, seconds and peak RSS of each and the ratios; writes ``bench/results/import.json``.

Run: ``python bench/import.py [--rows 100M]`` (``--rows 10M`` for a quick run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import graphgen  # noqa: E402

CHAIN = "ethereum"
CHAIN_ID = 1
TOKEN = ("USDT", "0xdac17f958d2ee523a2206206994597c13d831ec7", 6)
FIRST_BLOCK = 10_000_000
BLOCK_SECONDS = 12
FIRST_TIME = 1_600_000_000  # 2020-09-13, seconds
#: Rows generated per Arrow batch handed to DuckDB's COPY.
GEN_BATCH = 2_000_000
#: exposure's built-in ethereum tokens, as a store registers them (sorted by address).
ASSETS = [["USDC", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", 6],
          ["USDT", "0xdac17f958d2ee523a2206206994597c13d831ec7", 6]]
TARGETS = {"rows_per_second_100M": 2_000_000, "peak_rss_gb": 4.0}

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
#: byte -> its two hex characters, as one little-endian uint16 (first character in the low byte)
_LUT16 = (_HEX[np.arange(256) >> 4].astype(np.uint16)
          | (_HEX[np.arange(256) & 15].astype(np.uint16) << np.uint16(8)))
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def parse_rows(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


# --------------------------------------------------------------------------------------------
# the dump
# --------------------------------------------------------------------------------------------


def splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 of uint64[n] (a counter-based hash: same input, same output)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def hex_chars(words: np.ndarray) -> np.ndarray:
    """``0x`` + lowercase hex of each row of big-endian uint64 ``words`` (n, k), as a uint8
    character matrix (n, 2 + 16k)."""
    n, k = words.shape
    raw = words.astype(">u8").view(np.uint8).reshape(n, 8 * k)
    chars = np.empty((n, 2 + 16 * k), np.uint8)
    chars[:, 0], chars[:, 1] = ord("0"), ord("x")
    chars[:, 2:] = _LUT16[raw].view(np.uint8).reshape(n, 16 * k)
    return chars


def strings(chars: np.ndarray):
    """A pyarrow string array of the rows of a uint8 character matrix (no Python loop)."""
    import pyarrow as pa

    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def hex_strings(words: np.ndarray):
    """``0x`` + lowercase hex of each row of big-endian uint64 ``words`` (n, k), as strings."""
    return strings(hex_chars(words))


def tx_words(rows: np.ndarray, seed: int) -> np.ndarray:
    """(n, 4) uint64: each row's transaction hash."""
    base = rows.astype(np.uint64) * np.uint64(4) + np.uint64(seed << 40)
    return np.stack([splitmix(base + np.uint64(j)) for j in range(4)], axis=1)


def block_words(numbers: np.ndarray, seed: int) -> np.ndarray:
    """(n, 4) uint64: each block's hash."""
    base = numbers.astype(np.uint64) * np.uint64(4) + np.uint64((seed << 40) + (1 << 62))
    return np.stack([splitmix(base + np.uint64(j)) for j in range(4)], axis=1)


def block_hashes(numbers: np.ndarray, seed: int) -> Any:
    return hex_strings(block_words(numbers, seed))


def address_words(n_nodes: int, seed: int) -> np.ndarray:
    """(n_nodes, 3) uint64 whose first 20 bytes are each node's address: 4 bytes of node id then
    16 of hash (unique and random-looking)."""
    ids = np.arange(n_nodes, dtype=np.uint64)
    base = ids * np.uint64(2) + np.uint64((seed << 40) + (1 << 61))
    out = np.empty((n_nodes, 3), np.uint64)
    out[:, 0] = (ids << np.uint64(32)) | (splitmix(base) >> np.uint64(32))
    out[:, 1] = splitmix(base + np.uint64(1))
    out[:, 2] = splitmix(base ^ np.uint64(0x5555))
    return out


def address_chars(words: np.ndarray) -> np.ndarray:
    """(n_nodes, 42) uint8: ``0x`` + 40 hex of each node's address."""
    return np.ascontiguousarray(hex_chars(words)[:, :42])


def addresses(words: np.ndarray, nodes: np.ndarray) -> Any:
    """``0x`` + 40 hex of each node's address."""
    return strings(address_chars(words[nodes]))


def graph_size(rows: int) -> str:
    for name, spec in sorted(graphgen.SIZES.items(), key=lambda kv: kv[1].n_edges):
        if spec.n_edges >= rows:
            return name
    raise SystemExit(f"--rows {rows:,}: the largest graph has {graphgen.SIZES['large'].n_edges:,}"
                     " edges")


def dump_dir(rows: int, seed: int, per_block: int) -> Path:
    return graphgen.CACHE / f"import-{rows}-{per_block}pb-s{seed}"


def coverage_record(last_block: int) -> dict:
    addr = TOKEN[1]
    return {
        "format": "exposure.transfers/1",
        "chains": {CHAIN: {"chain_id": CHAIN_ID, "native_symbol": "ETH", "native_decimals": 18,
                           "assets": ASSETS,
                           "streams": {f"erc20:{addr}": [FIRST_BLOCK, last_block]}}},
    }


_TRANSFERS_SQL = """
COPY (
    SELECT CAST($chain AS VARCHAR) AS chain, CAST($asset AS VARCHAR) AS asset,
           CAST($token AS VARCHAR) AS token_address, CAST(tx_hash AS VARCHAR) AS tx_hash,
           CAST(log_index AS UINTEGER) AS log_index, CAST(NULL AS VARCHAR) AS trace_address,
           CAST(NULL AS VARCHAR) AS kind, CAST(block_number AS UBIGINT) AS block_number,
           CAST(block_hash AS VARCHAR) AS block_hash, CAST(parent_hash AS VARCHAR) AS parent_hash,
           to_timestamp(ts) AS block_time,
           CAST(from_address AS VARCHAR) AS from_address,
           CAST(to_address AS VARCHAR) AS to_address,
           CAST(amount AS VARCHAR) AS amount_raw,
           CAST(amount AS DOUBLE) / pow(10, $decimals) AS amount
    FROM _gen
) TO $path (FORMAT parquet, COMPRESSION zstd, KV_METADATA {exposure: $record})
"""

_BLOCKS_SQL = """
COPY (
    SELECT CAST($chain AS VARCHAR) AS chain, CAST(number AS UBIGINT) AS number,
           CAST(hash AS VARCHAR) AS hash, CAST(parent_hash AS VARCHAR) AS parent_hash,
           to_timestamp(ts) AS timestamp
    FROM _gen
) TO $path (FORMAT parquet, COMPRESSION zstd, KV_METADATA {exposure: $record})
"""


def generate_dump(rows: int, seed: int, per_block: int) -> tuple[Path, dict[str, Any]]:
    """Write (or reuse) the dump of ``rows`` transfers; returns its folder and facts."""
    import duckdb
    import pyarrow as pa

    folder = dump_dir(rows, seed, per_block)
    if (folder / ".meta.json").exists():
        return folder, json.loads((folder / ".meta.json").read_text())
    size = graph_size(rows)
    t0 = time.perf_counter()
    graph, _ = graphgen.cached(size, seed, mmap=True)
    gdir = graphgen.cache_dir(size, seed)
    src_path, dst_path = gdir / "edges_src.npy", gdir / "edges_dst.npy"
    if src_path.exists() and dst_path.exists():
        src, dst = np.load(src_path, mmap_mode="r"), np.load(dst_path, mmap_mode="r")
    else:
        src, dst = graphgen.edge_list(graph)
    value = np.asarray(graph.edge_value)
    n_edges = graph.n_edges
    # rows take the edges in a seeded permutation (i * P + c mod E, P prime, not a factor of E)
    prime = 2_654_435_761
    assert n_edges % prime != 0
    offset = int(splitmix(np.array([seed], np.uint64))[0] % np.uint64(n_edges))
    node_chars = address_chars(address_words(graph.n_nodes, seed))
    if GEN_BATCH % per_block:
        raise SystemExit(f"--per-block must divide {GEN_BATCH}")
    n_blocks = -(-rows // per_block)
    last_block = FIRST_BLOCK + n_blocks - 1
    record = json.dumps(coverage_record(last_block), sort_keys=True)
    log(f"dump: {rows:,} rows from the {size} graph ({n_edges:,} edges), {n_blocks:,} blocks -> "
        f"{folder}")

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    def transfer_batches():
        for a in range(0, rows, GEN_BATCH):
            i = np.arange(a, min(rows, a + GEN_BATCH), dtype=np.int64)
            number = FIRST_BLOCK + i // per_block
            b0 = int(number[0]) - 1  # the batch's blocks and the parent of its first
            bchars = hex_chars(block_words(np.arange(b0, int(number[-1]) + 1), seed))
            # within a block, rows in transaction-hash order (as the export writes them)
            tx = tx_words(i, seed)
            order = np.lexsort((tx[:, 0], number))
            i, tx = i[order], tx[order]
            edge = ((i.astype(np.uint64) * np.uint64(prime) + np.uint64(offset))
                    % np.uint64(n_edges)).astype(np.int64)
            amount = np.maximum(1, np.rint(value[edge] * 10 ** TOKEN[2])).astype(np.uint64)
            yield pa.record_batch({
                "tx_hash": hex_strings(tx),
                "log_index": (np.arange(a, a + len(i)) % per_block).astype(np.uint32),
                "block_number": number.astype(np.uint64),
                "block_hash": strings(bchars[number - b0]),
                "parent_hash": strings(bchars[number - b0 - 1]),
                "ts": (FIRST_TIME + (number - FIRST_BLOCK) * BLOCK_SECONDS).astype(np.int64),
                "from_address": strings(node_chars[np.asarray(src[edge])]),
                "to_address": strings(node_chars[np.asarray(dst[edge])]),
                "amount": amount,
            })

    def block_batches():
        for a in range(FIRST_BLOCK, last_block + 1, GEN_BATCH):
            number = np.arange(a, min(last_block + 1, a + GEN_BATCH), dtype=np.int64)
            yield pa.record_batch({
                "number": number.astype(np.uint64),
                "hash": block_hashes(number, seed),
                "parent_hash": block_hashes(number - 1, seed),
                "ts": (FIRST_TIME + (number - FIRST_BLOCK) * BLOCK_SECONDS).astype(np.int64),
            })

    con = duckdb.connect(config={"threads": 2, "preserve_insertion_order": True})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    sym, addr, dec = TOKEN
    for name, sql, batches in (("transfers", _TRANSFERS_SQL, transfer_batches),
                               ("blocks", _BLOCKS_SQL, block_batches)):
        first = next(batches())
        reader = pa.RecordBatchReader.from_batches(first.schema, batches())
        con.register("_gen", reader)
        params = {"chain": CHAIN, "path": str(tmp / f"{name}.parquet"), "record": record}
        if name == "transfers":
            params.update(asset=sym, token=addr, decimals=dec)
        con.execute(sql, params)
        con.unregister("_gen")
    con.close()
    facts = {"rows": rows, "blocks": n_blocks, "first_block": FIRST_BLOCK,
             "last_block": last_block, "per_block": per_block, "graph": size, "seed": seed,
             "generate_seconds": round(time.perf_counter() - t0, 1),
             "bytes": {p.name: p.stat().st_size for p in tmp.glob("*.parquet")}}
    (tmp / ".meta.json").write_text(json.dumps(facts, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    log(f"dump written in {facts['generate_seconds']} s: "
        + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in facts["bytes"].items()))
    return folder, facts


def check_format(work: Path) -> dict[str, Any]:
    """Compare the generated columns and types with what ``exposure export transfers`` writes:
    import a small dump with the product, export it again, compare both files' schemas and
    coverage records."""
    import duckdb

    from exposure.indexers.bulk import ImportOptions, export_transfers, import_transfers
    from exposure.store import connect

    folder, _ = generate_dump(10_000, 1, 100)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "check.duckdb"
    db.unlink(missing_ok=True)
    con = connect(db)
    res = import_transfers(con, [folder], "exposure", ImportOptions(strict=True))
    out = work / "check-export"
    shutil.rmtree(out, ignore_errors=True)
    export_transfers(con, out)
    con.close()
    plain = duckdb.connect()
    report: dict[str, Any] = {"imported": res.rows_imported}
    for name in ("transfers", "blocks"):
        schemas = []
        for path in (folder / f"{name}.parquet", out / f"{name}.parquet"):
            schemas.append(plain.execute(
                "SELECT name, type, converted_type, logical_type FROM parquet_schema(?) "
                "", [str(path)]).fetchall())
        report[f"{name}_schema_equal"] = schemas[0] == schemas[1]
        if schemas[0] != schemas[1]:
            report[f"{name}_schemas"] = schemas
        ours, theirs = (plain.execute(
            "SELECT * EXCLUDE (file_row_number) FROM read_parquet(?, file_row_number = true) "
            "ORDER BY file_row_number", [str(p)]).fetchall()
            for p in (folder / f"{name}.parquet", out / f"{name}.parquet"))
        report[f"{name}_rows_equal"] = ours == theirs
    records = [json.loads(plain.execute(
        "SELECT decode(value) FROM parquet_kv_metadata(?) WHERE decode(key) = 'exposure'",
        [str(p)]).fetchall()[0][0]) for p in (folder / "transfers.parquet",
                                               out / "transfers.parquet")]
    report["record_equal"] = records[0] == records[1]
    if not report["record_equal"]:
        report["records"] = records
    plain.close()
    return report


# --------------------------------------------------------------------------------------------
# the loads, each in its own process
# --------------------------------------------------------------------------------------------


def _peer_connection(db: Path, limit: str) -> Any:
    """A fresh DuckDB file for a peer load: 2 threads, UTC, no progress bar, ``limit`` memory."""
    import duckdb

    con = duckdb.connect(str(db), config={"threads": 2})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    if limit != "default":
        con.execute("SET memory_limit = ?", [limit])
    return con


def child_ctas(folder: Path, db: Path, limit: str) -> dict[str, Any]:

    con = _peer_connection(db, limit)
    t = time.perf_counter()
    con.execute("CREATE TABLE transfers AS SELECT * FROM read_parquet(?)",
                [str(folder / "transfers.parquet")])
    con.execute("CREATE TABLE blocks AS SELECT * FROM read_parquet(?)",
                [str(folder / "blocks.parquet")])
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM transfers").fetchall()[0][0]
    con.close()
    return {"seconds": seconds, "rows": rows}


def child_arrow(folder: Path, db: Path, whole_max: int, batch: int, limit: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    con = _peer_connection(db, limit)
    t = time.perf_counter()
    modes = {}
    for name in ("transfers", "blocks"):
        path = folder / f"{name}.parquet"
        pf = pq.ParquetFile(path)
        if pf.metadata.num_rows <= whole_max:
            con.register("_arrow", pq.read_table(path))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _arrow LIMIT 0")
            con.execute(f"INSERT INTO {name} SELECT * FROM _arrow")
            con.unregister("_arrow")
            modes[name] = "read_table"
        else:
            con.execute("BEGIN TRANSACTION")
            for k, b in enumerate(pf.iter_batches(batch_size=batch)):
                con.register("_arrow", b)
                if k == 0:
                    con.execute(f"CREATE TABLE {name} AS SELECT * FROM _arrow LIMIT 0")
                con.execute(f"INSERT INTO {name} SELECT * FROM _arrow")
                con.unregister("_arrow")
            con.execute("COMMIT")
            modes[name] = f"iter_batches({batch})"
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM transfers").fetchall()[0][0]
    con.close()
    return {"seconds": seconds, "rows": rows, "mode": modes}


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd`` under /usr/bin/time: (wall seconds, peak RSS GB, stdout)."""
    stats = Path(os.environ.get("TMPDIR", "/tmp")) / f"import-bench-time-{os.getpid()}.txt"
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", str(stats), *cmd],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    _, kb = stats.read_text().split()[-2:]
    stats.unlink()
    return wall, int(kb) / 1e6, proc.stdout


def run_exposure(folder: Path, db: Path) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("exposure")
    cmd = [str(exe), "import", "transfers", str(folder), "--format", "exposure", "--db", str(db),
           "--strict"]
    env = dict(os.environ, EXPOSURE_QUIET="1")
    wall, peak, out = timed(cmd, env)
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT count(*) FROM token_transfers").fetchall()[0][0]
    blocks = con.execute("SELECT count(*) FROM blocks").fetchall()[0][0]
    con.close()
    return {"seconds": wall, "peak_rss_gb": peak, "rows": rows, "blocks": blocks,
            "command": " ".join(cmd), "output": out.strip()[-500:]}


def run_child(kind: str, folder: Path, db: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(folder), str(db),
           str(args.arrow_whole_max), str(args.arrow_batch), args.peer_memory_limit]
    wall, peak, out = timed(cmd)
    res = json.loads(out.strip().splitlines()[-1])
    # the process's wall time, as for exposure's CLI (interpreter start and imports included)
    res.update(load_seconds=round(res.pop("seconds"), 3), seconds=wall, peak_rss_gb=peak)
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=parse_rows, default=100_000_000,
                        help="transfer rows (100M, 10M, 1M, ...; default 100M)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-block", type=int, default=100, help="rows per block")
    parser.add_argument("--work", type=Path, default=graphgen.CACHE / "import-work",
                        help="where the fresh DuckDB files go (deleted after each load)")
    parser.add_argument("--only", choices=("exposure", "duckdb", "arrow"), action="append",
                        help="run only these loads (repeat)")
    parser.add_argument("--keep", action="store_true", help="keep exposure's store afterwards")
    parser.add_argument("--arrow-whole-max", type=parse_rows, default=10_000_000,
                        help="read_table the whole file up to this many rows, else batches")
    parser.add_argument("--arrow-batch", type=parse_rows, default=2_000_000)
    parser.add_argument("--peer-memory-limit", default="default",
                        help="DuckDB memory_limit of the peers (default: DuckDB's, 80%% of RAM; "
                        "the Arrow peer was OOM-killed at 100M rows with it)")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--check-format", action="store_true",
                        help="check the dump's schema against `exposure export transfers`")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, folder, db, whole_max, batch, limit = args.child
        if kind == "duckdb":
            res = child_ctas(Path(folder), Path(db), limit)
        else:
            res = child_arrow(Path(folder), Path(db), int(whole_max), int(batch), limit)
        print(json.dumps(res))
        return 0
    if args.check_format:
        report = check_format(args.work)
        print(json.dumps(report, indent=1, default=str))
        ok = all(v for k, v in report.items() if k.endswith("_equal"))
        return 0 if ok else 1

    import duckdb
    import pyarrow

    folder, facts = generate_dump(args.rows, args.seed, args.per_block)
    if args.generate_only:
        print(json.dumps(facts, indent=1))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "duckdb": duckdb.__version__,
                    "pyarrow": pyarrow.__version__, "cpus": os.cpu_count(),
                    "load1_at_start": load1()},
        "dump": facts, "targets": TARGETS, "loads": {},
    }
    for kind in args.only or ("exposure", "duckdb", "arrow"):
        db = args.work / f"{kind}-{args.rows}.duckdb"
        for p in (db, db.with_name(db.name + ".wal")):
            p.unlink(missing_ok=True)
        before = load1()
        log(f"{kind}: loading {args.rows:,} rows into {db} (load1 {before})")
        res = run_exposure(folder, db) if kind == "exposure" else run_child(kind, folder, db, args)
        res["db_bytes"] = db.stat().st_size
        res["load1_before"], res["load1_after"] = before, load1()
        res["rows_per_second"] = round(args.rows / res["seconds"])
        if res["rows"] != args.rows:
            raise SystemExit(f"{kind}: {res['rows']:,} rows stored, expected {args.rows:,}")
        result["loads"][kind] = res
        if not (kind == "exposure" and args.keep):
            db.unlink(missing_ok=True)
        log(f"  {res['seconds']:.1f} s, {res['rows_per_second']:,.0f} rows/s, "
            f"peak RSS {res['peak_rss_gb']:.2f} GB")

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "import.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    # loads of other kinds from an earlier run (--only) are kept, marked with their machine
    earlier = data.get(str(args.rows), {})
    for kind, res in earlier.get("loads", {}).items():
        if kind not in result["loads"]:
            res.setdefault("machine", earlier.get("machine"))
            result["loads"][kind] = res
    loads = result["loads"]
    print(f"\n{args.rows:,} transfers, {facts['blocks']:,} blocks "
          f"({sum(facts['bytes'].values()) / 1e9:.2f} GB of Parquet)")
    print(f"{'load':<40} {'seconds':>9} {'rows/s':>12} {'peak RSS':>10} {'exposure/peer':>14}")
    names = {"exposure": "exposure import transfers (CLI)",
             "duckdb": "DuckDB CREATE TABLE AS read_parquet",
             "arrow": "pyarrow read + INSERT from Arrow"}
    ours = loads.get("exposure")
    for kind in ("exposure", "duckdb", "arrow"):
        if kind not in loads:
            continue
        res = loads[kind]
        rel = ""
        if ours and kind != "exposure":
            rel = f"{res['seconds'] / ours['seconds']:.2f}x speed"
            res["exposure_speed_ratio"] = round(res["seconds"] / ours["seconds"], 3)
            res["exposure_memory_ratio"] = round(ours["peak_rss_gb"] / res["peak_rss_gb"], 3)
        print(f"{names[kind]:<40} {res['seconds']:>9.1f} {res['rows_per_second']:>12,} "
              f"{res['peak_rss_gb']:>8.2f} GB {rel:>14}")
    if ours:
        speed = ours["rows_per_second"] >= TARGETS["rows_per_second_100M"]
        memory = ours["peak_rss_gb"] < TARGETS["peak_rss_gb"]
        print(f"targets: >= {TARGETS['rows_per_second_100M']:,} rows/s "
              f"({'met' if speed else 'not met'}), peak RSS < {TARGETS['peak_rss_gb']} GB "
              f"({'met' if memory else 'not met'})")
    data[str(args.rows)] = result
    path.write_text(json.dumps(data, indent=1, default=float))
    print(f"results: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
