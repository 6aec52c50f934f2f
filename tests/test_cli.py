"""The command line as a user meets it: help everywhere, one-line errors, no secrets, no loss."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from exposure.cli import app
from exposure.devchain import seed_scenario
from exposure.store import connect
from tests.conftest import REPO, comparable_rows, run_cli
from tests.proxy import RpcProxy


def _commands(group, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group)
    stack = [(prefix, click_group)]
    while stack:
        path, cmd = stack.pop()
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append(((*path, name), sub))


@pytest.mark.parametrize("path", list(_commands(app)), ids=lambda p: " ".join(p) or "exposure")
def test_every_command_has_help(path):
    done = run_cli(*path, "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and len(done.stdout.splitlines()) > 3


def test_python_dash_m_and_version_work():
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("exposure ")


def test_devchain_indexes_the_scenario_into_the_given_database(tmp_path):
    pytest.importorskip("exposure.devchain")
    db = tmp_path / "dev.duckdb"
    done = run_cli("index", "evm", "--devchain", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "indexed blocks 0-" in done.stdout
    con = connect(db)
    assets = dict(con.execute("SELECT asset, count(*) FROM transfers GROUP BY 1").fetchall())
    con.close()
    assert assets["USDT"] > 0 and assets["USDC"] > 0 and assets["ETH"] > 0


def test_unreachable_node_is_one_line_naming_the_method_without_the_secret(tmp_path):
    secret = "Zq9XsecretKEY0123456789"
    done = run_cli(
        "index",
        "evm",
        "--rpc",
        f"http://alice:pw-{secret}@127.0.0.1:9/v3/{secret}?apikey={secret}",
        "--db",
        str(tmp_path / "x.duckdb"),
        timeout=180,
    )
    assert done.returncode == 5
    assert secret not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("error: eth_chainId")
        and "Traceback" not in done.stderr
    )


def test_a_node_of_another_chain_exits_2(anvil, tmp_path):
    done = run_cli("index", "evm", "--rpc", anvil.url, "--db", str(tmp_path / "x.duckdb"))
    assert done.returncode == 2
    assert "serves chain id 31337" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "USDT=0x1234"], "not an EVM address"),
        (["--token", "USDT=0xdAC17F958D2ee523a2206206994597C13D831eC7:6"], "EIP-55 checksum"),
        (["--token", "nonsense"], "expected SYMBOL=0xADDRESS"),
        (["--tokens", "doge"], "unknown token 'doge'"),
        (["--to-block", "soon"], "--to-block must be a block number"),
    ],
)
def test_bad_options_are_one_clear_line_with_exit_2(anvil, tmp_path, args, message):
    done = run_cli(
        "index",
        "evm",
        "--rpc",
        anvil.url,
        "--chain",
        "local",
        "--db",
        str(tmp_path / "x.duckdb"),
        *args,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_credentials_never_reach_output_or_database(anvil, chain, tmp_path):
    s = seed_scenario(chain)
    secret = "s3cr3tApiKey0123456789abcdef"
    db = tmp_path / "x.duckdb"
    with RpcProxy(anvil.url, path=f"/v3/{secret}") as proxy:
        url = proxy.url.replace("http://", f"http://bob:{secret}@") + f"?key={secret}"
        done = run_cli(
            "index",
            "evm",
            "--rpc",
            url,
            "--chain",
            "local",
            "--confirmations",
            "0",
            "--token",
            f"USDT={s.usdt}",
            "--db",
            str(db),
        )
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr
    con = connect(db)
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
        dump = str(con.execute(f'SELECT * FROM "{table}"').fetchall())
        assert secret not in dump, table
    decimals = con.execute("SELECT decimals FROM assets WHERE asset = 'USDT'").fetchall()
    con.close()
    assert decimals == [(6,)]  # read from the contract's decimals()


def _dump(db):
    con = connect(db)
    out = [
        comparable_rows(con, t)
        for t in ("blocks", "token_transfers", "native_transfers")
    ]
    out.append(
        con.execute("SELECT stream, first_block, last_block FROM checkpoints ORDER BY 1").fetchall()
    )
    con.close()
    return out


def test_sigkill_at_random_moments_then_rerun_loses_and_duplicates_nothing(anvil, chain, tmp_path):
    s = seed_scenario(chain)
    for _ in range(3):
        chain.mine(150)
        seed_scenario(chain)
    args = [
        "index",
        "evm",
        "--rpc",
        anvil.url,
        "--chain",
        "local",
        "--confirmations",
        "0",
        "--token",
        f"USDT={s.usdt}:6",
        "--token",
        f"USDC={s.usdc}:6",
        "--batch-blocks",
        "7",
    ]
    reference = tmp_path / "ref.duckdb"
    assert run_cli(*args, "--db", str(reference)).returncode == 0
    db = tmp_path / "x.duckdb"
    rng = random.Random(7)
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "exposure", *args, "--db", str(db)],
            cwd=REPO,
            env={**os.environ, "CI": "true"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.8, 2.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    done = run_cli(*args, "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert kills >= 1
    assert _dump(db) == _dump(reference)


@pytest.mark.parametrize(
    "args",
    [["screen", "-0x12ab"], ["screen"], ["screen", "0x12", "--bogus"], ["nosuch"],
     ["index", "evm", "--from-block", "abc"]],
)
def test_usage_errors_are_one_line_with_exit_code_2(args):
    done = run_cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: ") and "--help" in done.stderr
    assert "Traceback" not in done.stderr
