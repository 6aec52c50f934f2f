"""Reliability figures: faults survived, crash points tried, rows lost or duplicated, bad inputs.

Plays, on real local nodes started here (anvil and bcoin on 127.0.0.1, behind the
fault-injecting JSON-RPC proxy of tests/proxy.py and tests/faults.py):

1. EVM soak: a long anvil chain (the scenario's ETH, internal and edge-case transfers plus rounds
   of ERC-20 transfers between stretches of empty blocks) indexed through the proxy at a 10%
   fault rate of every kind, with a reorganisation mid-run (anvil reverted to a snapshot and a
   longer other branch mined); compared row for row with a fault-free run of the final chain;
2. Bitcoin soak: the same on bcoin regtest (wallet payments, invalidateblock mid-run);
3. crashes: ``exposure index evm`` SIGKILLed at random moments (a random request, then up to
   80 ms), the store checked after every kill (opens; shows only whole committed batches), then
   rerun to the end and compared with a run that was never killed;
4. bad inputs through the real CLI as a subprocess (malformed addresses, SQL metacharacters in
   every string option, hostile label packs, bad customer books), plus random strings through
   the CLI's entry point in-process: how many ended in a traceback (must be 0) or in an exit
   code other than the documented ones.

Run: ``python bench/reliability.py`` (full: a 20,000-block chain, 3,000 transfers, 20 kills;
about 15 minutes on 2 cores) or ``--quick`` (about 3 minutes). Figures are printed and written to
``bench/results/reliability.json``; the exit code is 1 if a row was lost or duplicated or an
input produced a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("BCL_DATA_DIR", tempfile.mkdtemp(prefix="exposure-bcl-"))

from exposure.devchain import Anvil  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.faults import (  # noqa: E402
    BAD_ADDRESSES,
    SQL_STRINGS,
    VALID_BECH32,
    VALID_EVM,
    build_evm_soak_chain,
    crash_evm,
    soak_btc,
    soak_evm,
)

FULL = {"evm_blocks": 20_000, "evm_transfers": 3_000, "btc_blocks": 600, "btc_payments": 150,
        "crash_blocks": 3_000, "crash_transfers": 600, "kills": 20, "random_inputs": 2_000}
QUICK = {"evm_blocks": 2_000, "evm_transfers": 300, "btc_blocks": 160, "btc_payments": 20,
         "crash_blocks": 1_000, "crash_transfers": 200, "kills": 5, "random_inputs": 300}


def exposure_world(folder: Path) -> tuple[Path, object]:
    """The exposure scenario indexed with its labels (as tests/conftest.py's exposure_world)."""
    from exposure.demo import load_scenario
    from exposure.devchain.exposure_scenario import seed_exposure_scenario
    from exposure.store import connect

    db = folder / "world.duckdb"
    with Anvil() as node, node.chain() as chain:
        s = seed_exposure_scenario(chain)
        con = connect(db)
        load_scenario(con, node.url, s, folder / "demo.yaml")
        con.close()
    return db, s


def bad_inputs(folder: Path, n_random: int, seed: int) -> dict:
    """Every curated bad input through the CLI subprocess, random ones through ``main``."""
    from exposure.cli import main
    from exposure.devchain.exposure_scenario import addr

    db, _ = exposure_world(folder)
    cases: list[tuple[str, list[str], set[int]]] = []
    for bad in BAD_ADDRESSES:
        cases.append(("address", ["screen", bad, "--db", str(db)], {2}))
        cases.append(("address", ["labels", "show", bad, "--db", str(db)], {2}))
    for evil in SQL_STRINGS:
        for option in ("--chain", "--since", "--until", "--direction"):
            cases.append(("sql", ["screen", addr("c1"), option, evil, "--db", str(db)], {0, 2}))
        for option in ("--category", "--actor", "--chain"):
            cases.append(("sql", ["labels", "list", option, evil, "--db", str(db)], {0, 2}))
        cases.append(("sql", ["index", "evm", "--rpc", "http://127.0.0.1:9/", "--chain", evil,
                              "--db", str(folder / "sql.duckdb")], {2, 5}))
    packs = {
        "tags.yaml": "title: !!python/object/apply:os.system ['echo pwned']\n",
        "bomb.yaml": "a: &a [x,x,x,x,x,x,x,x]\n" + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "title: *i\n",
        "deep.yaml": "title: " + "[" * 5_000 + "]" * 5_000 + "\n",
        "binary.yaml": None,
        "empty.yaml": "",
        "dupes.yaml": "title: a\ntitle: b\n",
    }
    for name, text in packs.items():
        path = folder / name
        if text is None:
            path.write_bytes(os.urandom(4096))
        else:
            path.write_text(text, encoding="utf-8")
        cases.append(("label pack", ["labels", "import", str(path), "--db", str(db)], {2}))
    books = {
        "gbk.csv": f"客户,钱包地址\n张三,{addr('c1')}\n李四,0x12\n".encode("gbk"),
        "utf16.csv": f"钱包地址\t名字\n{addr('c1')}\t客户\n".encode("utf-16"),
        "bom.csv": b"\xef\xbb\xbfaddress\n" + addr("c1").encode() + b"\n",
        "empty.csv": b"",
        "quote.csv": b'address\n"' + b"x" * 200_000 + b"\n",
        "nul.csv": b"address\n0x\x00\n",
        "binary.csv": os.urandom(2048),
        "hostile.csv": ("address\n" + "\n".join(
            f'"{a}"' for a in BAD_ADDRESSES if a.strip() and len(a) < 1000)).encode(),
    }
    for name, raw in books.items():
        (folder / name).write_bytes(raw)
        cases.append(("book", ["batch", str(folder / name), "--db", str(db), "--no-shares"],
                      {0, 2}))
    tried = {"subprocess": 0, "in-process": 0}
    tracebacks, wrong_codes, by_kind = [], [], {}
    for kind, args, codes in cases:
        done = run_cli(*args, timeout=300)
        tried["subprocess"] += 1
        by_kind[kind] = by_kind.get(kind, 0) + 1
        if "Traceback" in done.stderr or "Traceback" in done.stdout:
            tracebacks.append(args[:2])
        if done.returncode not in codes or "unexpected" in done.stderr:
            wrong_codes.append((args[:3], done.returncode, done.stderr.strip()[-200:]))
    rng = random.Random(seed)
    alphabet = "0123456789abcdefABCDEFxX qpzry9l1OI\u0430\u200b\uff10\t\n'\";%-_<>/\\"
    for i in range(n_random):
        base = rng.choice((*BAD_ADDRESSES[:8], VALID_EVM, VALID_BECH32))
        chars = list(base)
        for _ in range(rng.randint(1, 4)):
            if chars:
                chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        text = "".join(chars) if i % 3 else "".join(
            rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        if text.startswith("-"):
            text = " " + text
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["screen", text, "--db", str(db)])
            except BaseException:  # anything escaping main is a traceback
                code = -1
        tried["in-process"] += 1
        if code == -1:
            tracebacks.append(["screen", text])
        elif code not in (0, 2) or "unexpected" in err.getvalue():
            wrong_codes.append((["screen", text], code, err.getvalue().strip()[-200:]))
    by_kind["random address"] = n_random
    return {"tried": sum(tried.values()), "by_way": tried, "by_kind": by_kind,
            "tracebacks": len(tracebacks), "traceback_cases": tracebacks[:10],
            "unexpected_exit_codes": len(wrong_codes), "unexpected_cases": wrong_codes[:10]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short form (about 3 minutes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=(),
                        choices=("evm", "btc", "crash", "inputs"), help="parts to leave out")
    parser.add_argument("--evm-blocks", type=int, help="override the EVM soak's length")
    args = parser.parse_args()
    size = dict(QUICK if args.quick else FULL)
    if args.evm_blocks:
        size["evm_blocks"] = args.evm_blocks
    results: dict = {"mode": "quick" if args.quick else "full", "size": size,
                     "load_before": os.getloadavg()[0]}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="exposure-reliability-") as tmp:
        folder = Path(tmp)
        if "evm" not in args.skip:
            figures = soak_evm(
                folder, blocks=size["evm_blocks"], transfers=size["evm_transfers"], rate=0.10,
                seed=args.seed, max_native_blocks=25,
                anvil_args=("--prune-history", "64"),
            )
            results["evm_soak"] = asdict(figures)
            _show("EVM soak", figures)
        if "btc" not in args.skip:
            figures = soak_btc(folder, blocks=size["btc_blocks"], payments=size["btc_payments"],
                               rate=0.10, seed=args.seed, max_blocks=20)
            results["btc_soak"] = asdict(figures)
            _show("Bitcoin soak", figures)
        if "crash" not in args.skip:
            with Anvil() as node, node.chain() as chain:
                soak = build_evm_soak_chain(chain, blocks=size["crash_blocks"],
                                            transfers=size["crash_transfers"], rounds=6)
                crash = crash_evm(folder, node, soak, kills=size["kills"], seed=args.seed)
            results["crash"] = asdict(crash)
            print(f"crashes: {crash.kills} SIGKILLs in {crash.runs} runs; opens unclean: "
                  f"{crash.unclean_opens}; partial batches seen: {crash.partial_batches_seen}; "
                  f"final rows lost {crash.diff.lost}, duplicated {crash.diff.duplicated} "
                  f"of {crash.diff.compared}; {crash.seconds:.0f} s", flush=True)
        if "inputs" not in args.skip:
            inputs = bad_inputs(folder, size["random_inputs"], args.seed)
            results["bad_inputs"] = inputs
            print(f"bad inputs: {inputs['tried']} tried ({inputs['by_kind']}); tracebacks: "
                  f"{inputs['tracebacks']}; other exit codes: {inputs['unexpected_exit_codes']}",
                  flush=True)
            for case in inputs["unexpected_cases"]:
                print(f"  unexpected: {case}")
    results["seconds"] = time.monotonic() - started
    lost = sum(results[k]["diff"]["lost"] + results[k]["diff"]["duplicated"]
               for k in ("evm_soak", "btc_soak", "crash") if k in results)
    bad = results.get("bad_inputs", {}).get("tracebacks", 0)
    partial = results.get("crash", {}).get("partial_batches_seen", 0)
    print(f"TOTAL: rows lost or duplicated {lost}; partial batches seen {partial}; "
          f"tracebacks {bad}; {results['seconds']:.0f} s")
    out = REPO / "bench" / "results" / "reliability.json"
    out.parent.mkdir(exist_ok=True)
    name = "quick" if args.quick else "full"
    merged = json.loads(out.read_text()) if out.exists() else {}
    merged[name] = results
    out.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    return 1 if lost or bad or partial else 0


def _show(title: str, f) -> None:
    faults = {k: v for k, v in sorted(f.faults.items())}
    print(f"{title}: {f.blocks:,} blocks, {f.transfers:,} transfers, {f.requests:,} requests; "
          f"faults injected {sum(faults.values())} {faults}, all survived: "
          f"{f.diff.identical}; reorgs handled {f.reorgs_seen}; rows lost {f.diff.lost}, "
          f"duplicated {f.diff.duplicated} of {f.diff.compared}; {f.seconds:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
