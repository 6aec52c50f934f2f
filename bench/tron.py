"""TRON index benchmark: `exposure index tron` end to end against a local java-tron HTTP API.

1. Builds ``--blocks`` blocks of ``--txs`` transactions shaped like recorded mainnet blocks
   60836289 and 79072107 (read from /work/shared/data/tron, not copied): their 789 transactions
   are the templates (USDT ``transfer``/``transferFrom`` calls, TRX transfers, TRC-10, resource
   contracts in the blocks' proportions), each copy with a fresh txID, sender, recipient and
   amount drawn from a pool of ``--addresses`` addresses; transaction infos as
   tests/tron_node.py derives them (the USDT Transfer log of each successful call).
2. Serves them from tests/tron_node.py's node in its own process on 127.0.0.1 (JSON of every
   block and info list serialised once, before the clock starts).
3. Measures, in this one run:
   a. end to end: ``python -m exposure index tron --rpc URL`` (process start included) into a
      fresh DuckDB file: blocks/s and transfers/s;
   b. decode + insert without HTTP: ``decode_transfers`` + ``write_evm_batch`` over the same
      blocks in batches of ``--batch`` blocks into a fresh DuckDB file: transfers/s.
4. Prints the figures and writes ``bench/results/tron.json``.

Targets (issue 13): a. >= 100 blocks/s on 2 cores; b. >= 300,000 transfers/s.

Run: ``python bench/tron.py [--blocks 600] [--txs 300]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(REPO))

from exposure.addresses import tron_encode_many  # noqa: E402
from tests.tron_node import (  # noqa: E402
    USDT,
    Chain,
    TronNode,
    derived_infos,
    raw_recorded_block,
    recorded_block,
    word,
)

START = 60836289


def build_chain(blocks: int, txs: int, addresses: int, seed: int = 7) -> Chain:
    """``blocks`` recorded-shaped blocks after the recorded one (see the module docstring)."""
    rng = random.Random(seed)
    base = recorded_block()
    templates = [orjson.dumps(t) for t in base["transactions"]
                 + raw_recorded_block()["transactions"]]
    pool = tron_encode_many(
        np.random.default_rng(seed).integers(0, 256, (addresses, 20), dtype=np.uint8))
    chain = Chain()
    chain.blocks[START] = base
    chain.infos[START] = derived_infos(base)
    parent = base
    for n in range(START + 1, START + 1 + blocks):
        block_txs = []
        for i in range(txs):
            tx = orjson.loads(templates[(i * 7 + n) % len(templates)])
            tx["txID"] = f"{n:016x}{i:08x}{rng.getrandbits(160):040x}"
            contract = tx["raw_data"]["contract"][0]
            value = contract["parameter"]["value"]
            if contract["type"] == "TransferContract":
                value["owner_address"] = rng.choice(pool)
                value["to_address"] = rng.choice(pool)
                value["amount"] = rng.randrange(1, 10**10)
            elif (contract["type"] == "TriggerSmartContract"
                  and value.get("contract_address") == USDT
                  and value.get("data", "")[:8] in ("a9059cbb", "23b872dd")):
                value["owner_address"] = rng.choice(pool)
                value["data"] = ("a9059cbb" + word(rng.choice(pool))
                                 + f"{rng.randrange(1, 10**12):064x}")
            block_txs.append(tx)
        raw = dict(parent["block_header"]["raw_data"])
        raw.update(number=n, parentHash=parent["blockID"], timestamp=raw["timestamp"] + 3000,
                   txTrieRoot=f"{rng.getrandbits(256):064x}")
        block = {"blockID": f"{n:016x}{rng.getrandbits(192):048x}",
                 "block_header": {"raw_data": raw,
                                  "witness_signature": parent["block_header"]["witness_signature"]},
                 "transactions": block_txs}
        chain.blocks[n] = block
        chain.infos[n] = derived_infos(block)
        parent = block
    return chain


def serve(args: argparse.Namespace) -> None:
    """Child process: build the chain, warm the node's answers, print the URL, serve."""
    chain = build_chain(args.blocks, args.txs, args.addresses)
    node = TronNode(chain)
    for n in chain.blocks:
        node._block(n, True)
        node._answer("/wallet/gettransactioninfobyblocknum", {"num": n}, True)
    with node:
        print(node.url, flush=True)
        sys.stdin.read()  # until the parent closes it


def decode_insert(chain: Chain, batch: int) -> dict[str, Any]:
    """b.: decode + write of every built block, in batches, into a fresh store."""
    import gc

    from exposure.indexers.tron import (
        TRON,
        AddressForms,
        block_columns,
        decode_transfers,
        token_lookup,
        token_stream,
    )
    from exposure.store import connect, writes

    gc.disable()  # as index_tron does while a batch's JSON is alive
    numbers = sorted(n for n in chain.blocks if n > START)
    lookup = token_lookup(TRON.tokens)
    forms = AddressForms()
    with tempfile.TemporaryDirectory() as folder:
        con = connect(Path(folder) / "b.duckdb")
        writes.register_chain(con, TRON, None)
        decode_s = write_s = 0.0
        transfers = 0
        for i in range(0, len(numbers), batch):
            part = numbers[i:i + batch]
            blocks = [chain.blocks[n] for n in part]
            infos = {n: chain.infos[n] for n in part}
            t0 = time.perf_counter()
            tokens, native = decode_transfers(blocks, infos, lookup, native=True, forms=forms)
            t1 = time.perf_counter()
            ranges = [writes.StreamRange("native", part[0], part[-1])] + [
                writes.StreamRange(token_stream(t), part[0], part[-1], t.address)
                for t in TRON.tokens]
            writes.write_evm_batch(con, "tron", ranges, block_columns(blocks), tokens, native)
            t2 = time.perf_counter()
            decode_s += t1 - t0
            write_s += t2 - t1
            transfers += tokens.num_rows + native.num_rows
        con.close()
    gc.enable()
    return {"transfers": transfers, "decode_s": round(decode_s, 3),
            "write_s": round(write_s, 3),
            "transfers_per_s": round(transfers / (decode_s + write_s))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=600)
    parser.add_argument("--txs", type=int, default=300, help="transactions per block")
    parser.add_argument("--addresses", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100, help="blocks per committed batch")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--blocks", str(args.blocks), "--txs",
         str(args.txs), "--addresses", str(args.addresses)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise SystemExit("the node did not start")
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "e.duckdb"
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "exposure", "index", "tron", "--rpc", url,
                 "--from-block", str(START + 1), "--to-block", str(START + args.blocks),
                 "--confirmations", "0", "--batch-blocks", str(args.batch), "--db", str(db)],
                capture_output=True, text=True, cwd=REPO, env={**os.environ, "CI": "true"})
            seconds = time.perf_counter() - t0
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            import duckdb

            con = duckdb.connect(str(db), read_only=True)
            transfers = con.execute(
                "SELECT (SELECT count(*) FROM token_transfers) "
                "+ (SELECT count(*) FROM native_transfers)").fetchone()[0]
            con.close()
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    end_to_end = {"blocks": args.blocks, "txs_per_block": args.txs, "seconds": round(seconds, 2),
                  "blocks_per_s": round(args.blocks / seconds, 1),
                  "transfers": transfers, "transfers_per_s": round(transfers / seconds)}
    print(f"a. end to end (CLI, process start included): {args.blocks} blocks of {args.txs} tx "
          f"in {seconds:.2f} s = {args.blocks / seconds:,.1f} blocks/s, {transfers:,} transfers "
          f"({transfers / seconds:,.0f}/s); target >= 100 blocks/s")
    chain = build_chain(args.blocks, args.txs, args.addresses)
    inner = decode_insert(chain, args.batch)
    print(f"b. decode + insert (no HTTP): {inner['transfers']:,} transfers, decode "
          f"{inner['decode_s']} s + insert {inner['write_s']} s = "
          f"{inner['transfers_per_s']:,} transfers/s; target >= 300,000/s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tron.json").write_text(json.dumps(
        {"end_to_end": end_to_end, "decode_insert": inner, "cpus": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
